"""Reachability (issue 16): which endpoints the internet reaches through each rule.

Pure functions over `secmonkey.common.topology.Topology`: `index` makes it searchable,
`acl` judges network ACLs, `reach` lists a group's exposed endpoints, `severity` turns
them into the severity of a finding; `store` keeps the latest topology per account-region.
"""
