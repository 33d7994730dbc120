"""Pydantic schemas for every payload that crosses a boundary of the system."""
