"""Distinct types for identifiers and chain quantities, so a Wei is never a Gwei by accident."""

from typing import NewType

SeatId = NewType("SeatId", str)
OperatorId = NewType("OperatorId", str)
OperationId = NewType("OperationId", str)
Wei = NewType("Wei", int)
Gwei = NewType("Gwei", int)
BlockNumber = NewType("BlockNumber", int)
Slot = NewType("Slot", int)
Epoch = NewType("Epoch", int)
ChainId = NewType("ChainId", int)
TxHash = NewType("TxHash", str)
Address = NewType("Address", str)
"""A 0x-prefixed, EIP-55 checksummed 20-byte address."""

GWEI = 10**9
ETH_IN_GWEI = Gwei(10**9)
DEPOSIT_AMOUNT_GWEI = Gwei(32 * 10**9)


def gwei_to_wei(amount: Gwei) -> Wei:
    return Wei(amount * GWEI)
