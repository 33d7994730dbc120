"""Test helpers shared by several test modules (fakes and clocks), so no test imports another."""
