"""The pure core: state machines, deposit checks and policies. No I/O imports here."""
