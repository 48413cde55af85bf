"""Order ids: date-prefixed, sortable, unique."""

from __future__ import annotations

import threading

from sniper.store.ids import OrderIdGenerator

APRIL_15_0700_UTC_MS = 1_713_164_400_000


class TestOrderIds:
    """Shape, order and uniqueness."""

    def test_starts_with_the_date(self) -> None:
        """The first 17 digits are the UTC date and time to the millisecond."""
        order_id = OrderIdGenerator(node="abcd1234").next_id(APRIL_15_0700_UTC_MS + 123)
        assert order_id == "20240415070000123" + "000000" + "abcd1234"

    def test_increasing_within_a_process_even_if_time_steps_back(self) -> None:
        """A clock step backwards does not make a smaller id."""
        gen = OrderIdGenerator()
        times = [APRIL_15_0700_UTC_MS + d for d in (0, 0, 5, 3, 3, 10)]
        ids = [gen.next_id(t) for t in times]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

    def test_unique_across_threads_and_generators(self) -> None:
        """Many threads and two 'processes' (nodes) at the same millisecond never collide."""
        gens = [OrderIdGenerator(), OrderIdGenerator()]
        out: list[str] = []
        lock = threading.Lock()

        def make(gen: OrderIdGenerator) -> None:
            got = [gen.next_id(APRIL_15_0700_UTC_MS) for _ in range(2000)]
            with lock:
                out.extend(got)

        threads = [threading.Thread(target=make, args=(gens[i % 2],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(out)) == 16_000
