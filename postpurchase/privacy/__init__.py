"""Personal data: retention of raw bodies, erasure and export of one customer.

Public operations (each takes a keyword-only ``session``, flushes, and leaves the commit to the
caller) for the commands ``postpurchase data purge`` and ``postpurchase customers erase|export``:

- :func:`postpurchase.privacy.retention.purge_inbox_bodies` /
  :func:`~postpurchase.privacy.retention.delete_rejected`: one batch of the retention purge.
- :func:`postpurchase.privacy.customers.erase_customer`: anonymise one customer of a brand.
- :func:`postpurchase.privacy.customers.export_customer`: everything stored about one customer.
"""
