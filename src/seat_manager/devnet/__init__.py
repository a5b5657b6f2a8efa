"""A local devnet for newcomers: anvil, deployed contracts, demo seats and keys.
Nothing here is used by a production process."""
