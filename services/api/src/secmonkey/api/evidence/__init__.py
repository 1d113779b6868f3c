"""The evidence package: what an auditor is handed for one compliance scope and period.

`rows` reads what goes in (the changes in scope with their reviews, each group's state at
the end of the period, open findings, justifications in force) a page at a time; `files`
writes each row to the HTML, CSV, JSON and PDF files as it arrives; `chain_file` writes
the chain package (`chain.json`, see `secmonkey.common.chain_verify`) of the groups in
scope and verifies it a batch of groups at a time; `package` spools all of it to disk, zips it with
a manifest (the SHA-256 of every file and the verification result) and hands back the
path, so neither the database reads nor the response hold the whole package in memory.
"""
