"""Shared test helpers and real peers for the wskit front ends; not shipped."""
