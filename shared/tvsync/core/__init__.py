"""The pure core: no IO, no clock, no environment. Table-tested."""
