"""The search index: which rules cover an address or network, and where a group ID lives.

One package for its format (`format`, `edits`), its writer (`writer`: the auditor files
each change and backfills once) and its reader (`reader`: the API's searches and
lookups). README.md says how it is laid out and why, per backend.
"""
