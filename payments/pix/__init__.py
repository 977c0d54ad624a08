"""Pix itself, with nothing of the app: BR Codes ("copia e cola"), exact money, QR images."""
