"""The domain signals call their receivers in the order they were connected."""

from __future__ import annotations

from postpurchase import signals


def test_receivers_run_in_the_order_they_were_connected() -> None:
    called: list[int] = []
    receivers = []
    for index in range(40):

        def receiver(sender: object, _index: int = index, **_: object) -> None:
            called.append(_index)

        receivers.append(receiver)
    # Connected in an order unrelated to where the functions live in memory (their ids).
    order = sorted(range(40), key=lambda i: (i * 17) % 40)
    signal = signals._signals.signal("test-connection-order")
    for index in order:
        signal.connect(receivers[index])
    try:
        signal.send(1)
        assert called == order
        signal.disconnect(receivers[order[3]])
        called.clear()
        signal.send(1)
        assert called == [i for i in order if i != order[3]]
    finally:
        for receiver in receivers:
            signal.disconnect(receiver)
