"""Charges: the payment record, its status machine, the rules that change it, its routes."""
