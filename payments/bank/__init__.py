"""The bank's side: its webhook routes, notice bodies, signatures, receipts and delivery log."""
