"""The merchant's Pix provider through the Banco Central API Pix standard (``PIX_PSP_URL``).

``client`` speaks HTTP to the provider; ``charges`` makes and removes dynamic charges
(``cob``); ``callbacks`` checks each callback item with the provider before applying it;
``reconcile`` lists received Pix to catch what no callback brought; ``refunds`` asks for
and follows refunds (``devolucao``); ``commands`` are the ``flask psp`` commands.
"""
