"""The command mix: one device choosing weighted actions until ``count`` are queued."""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.app.agent import EdgeAgent
from edge_agent.devtools.sim.aid import AidActions
from edge_agent.devtools.sim.batch import Batch
from edge_agent.devtools.sim.goods import GoodsActions
from edge_agent.devtools.sim.lending import LendingActions
from edge_agent.devtools.sim.membership import MembershipActions
from edge_agent.devtools.sim.pool import Pool


class Device(MembershipActions, LendingActions, GoodsActions, AidActions):
    """Chooses and queues one valid command at a time for one device."""

    def __init__(self, agent: EdgeAgent, pool: Pool, out: Batch) -> None:
        super().__init__(agent, pool, out)
        # An action that finds nothing to do returns False and another is drawn, so
        # these weights shape the mix without fixing it.
        weighted: list[tuple[Callable[[], bool], int]] = [
            (self.register, 30),
            (self.approve, 40),
            (self.open_account, 100),
            (self.pay_pokok, 40),
            (self.edit_profile, 15),
            (self.resign, 2),
            (self.pay_wajib, 90),
            (self.deposit, 55),
            (self.withdraw, 30),
            (self.reverse_savings, 4),
            (self.apply_loan, 12),
            (self.approve_loan, 12),
            (self.disburse_loan, 12),
            (self.repay_loan, 60),
            (self.reverse_repayment, 2),
            (self.sell, 230),
            (self.void_sale, 6),
            (self.repay_credit, 12),
            (self.set_price, 5),
            (self.receive_stock, 30),
            (self.transfer, 18),
            (self.receive_transfer, 18),
            (self.adjust, 6),
            (self.count, 10),
            (self.redeem, 70),
            (self.void_redemption, 3),
            (self.utilize, 8),
            (self.repay_fund, 12),
            (self.ship_out, 5),
            (self.receive_delivery, 8),
            (self.discrepancy, 10),
        ]
        self.actions = [a for a, _ in weighted]
        self.weights = [w for _, w in weighted]

    def run(self, count: int) -> None:
        while len(self.out.recorded) < count:
            done = len(self.out.recorded)
            while done < count:
                if self.rng.choices(self.actions, self.weights)[0]():
                    done += 1
                    if len(self.out.queue) >= self.out.size:
                        self.flush()
            self.flush()

    def flush(self) -> None:
        """Record the queue; commands a sibling's event made the rules refuse are replaced
        (the shadow of the views is read again: the siblings changed them)."""
        dropped = self.out.dropped
        self.out.flush()
        if self.out.dropped > dropped:
            self.shadow.clear()
