"""Proxying another registry for names that are not hosted here (protocols.md §4.4)."""
