"""Received Pix: paying a charge, reading and listing Pix, and refunds (``devolucao``)."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from payments.simulator import charges
from payments.simulator.problems import Problem, invalid
from payments.simulator.values import (
    DEVOLUCAO_ID,
    END_TO_END_ID,
    cents,
    end_to_end_id,
    now,
    parse_time,
    reais,
    return_id,
    stamp,
)

if TYPE_CHECKING:
    from werkzeug.datastructures import MultiDict

    from payments.simulator import Simulator

IN_PROCESS, RETURNED, NOT_DONE = "EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO"
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100


def webhook_url(sim: Simulator, chave: str) -> str | None:
    """Return where callbacks for ``chave`` go: its webhook, else ``--webhook-url``."""
    webhook = sim.store.webhook(chave)
    return webhook["webhookUrl"] if webhook else sim.config["SIM_WEBHOOK_URL"]


# --- paying ----------------------------------------------------------------------------------


def pay(sim: Simulator, txid: str, body: object) -> tuple[dict, dict]:
    """Pay the cob ``txid`` as a payer's bank would; return (the Pix, its callback's record).

    ``body`` may give ``valor`` (to pay a wrong amount) and ``infoPagador``.

    :raise Problem: unknown charge (404); not ``ATIVA`` or expired (409); a bad body (400).
    """
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise invalid("RequisicaoInvalida", "the body must be a JSON object", "pagamento")
    with sim.store.lock:
        cob = charges.find(sim, txid)
        cob.pop("pix", None)
        if cob["status"] != charges.ACTIVE:
            raise Problem(
                "CobOperacaoInvalida", 409, f"the charge is {cob['status']}: it takes no payment"
            )
        if charges.expired(cob):
            raise Problem("CobOperacaoInvalida", 409, "the charge has expired")
        valor = body.get("valor", cob["valor"]["original"])
        try:
            if cents(valor) <= 0:
                raise ValueError
        except ValueError:
            raise invalid(
                "RequisicaoInvalida", "valor must be an amount above 0.00", "pagamento.valor", valor
            ) from None
        moment = now()
        pix = {
            "endToEndId": end_to_end_id(moment),
            "txid": txid,
            "valor": valor,
            "componentesValor": {"original": {"valor": valor}},
            "chave": cob["chave"],
            "horario": stamp(moment),
        }
        info = body.get("infoPagador")
        if isinstance(info, str) and info:
            pix["infoPagador"] = info[:140]
        cob["status"] = charges.PAID
        sim.store.add_pix(pix)
        sim.store.save_cob(cob)
    return pix, sim.notifier.send(webhook_url(sim, cob["chave"]), [pix])


# --- reading ---------------------------------------------------------------------------------


def find(sim: Simulator, e2eid: str) -> dict:
    """Return the Pix ``e2eid`` with its refunds.

    :raise Problem: ``PixNaoEncontrado``.
    """
    pix = sim.store.pix(e2eid) if END_TO_END_ID.fullmatch(e2eid) else None
    if pix is None:
        raise Problem("PixNaoEncontrado", 404, f"no Pix with endToEndId {e2eid}")
    return pix


def _query_error(reason: str, prop: str, value: object = None) -> Problem:
    return invalid("PixConsultaInvalida", reason, prop, value)


def _int_arg(args: MultiDict, name: str, default: int, low: int, high: int) -> int:
    text = args.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise _query_error(f"{name} must be a whole number", name, text) from None
    if not low <= number <= high:
        raise _query_error(f"{name} must be between {low} and {high}", name, text)
    return number


def _time_arg(args: MultiDict, name: str) -> str:
    text = args.get(name)
    if not text:
        raise _query_error(f"{name} is required (RFC 3339)", name)
    try:
        return stamp(parse_time(text))
    except ValueError:
        raise _query_error(f"{name} must be an RFC 3339 time with an offset", name, text) from None


def _bool_arg(args: MultiDict, name: str) -> bool | None:
    text = args.get(name)
    if text is None:
        return None
    if text not in ("true", "false"):
        raise _query_error(f"{name} must be true or false", name, text)
    return text == "true"


def _filter(items: list[dict], args: MultiDict) -> list[dict]:
    """Keep the Pix that match the ``txid``, ``txIdPresente`` and ``devolucaoPresente`` filters."""
    txid, has_txid = args.get("txid"), _bool_arg(args, "txIdPresente")
    has_refund = _bool_arg(args, "devolucaoPresente")
    if txid is not None:
        items = [pix for pix in items if pix.get("txid") == txid]
    if has_txid is not None:
        items = [pix for pix in items if bool(pix.get("txid")) == has_txid]
    if has_refund is not None:
        items = [pix for pix in items if bool(pix.get("devolucoes")) == has_refund]
    return items


def listing(sim: Simulator, args: MultiDict) -> dict:
    """Answer ``GET /pix``: the Pix received between ``inicio`` and ``fim``, one page of them.

    :raise Problem: ``PixConsultaInvalida``.
    """
    start, end = _time_arg(args, "inicio"), _time_arg(args, "fim")
    if end < start:
        raise _query_error("fim is before inicio", "fim", args["fim"])
    page = _int_arg(args, "paginacao.paginaAtual", 0, 0, 2**31 - 1)
    per_page = _int_arg(args, "paginacao.itensPorPagina", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    items = _filter(sim.store.pix_between(start, end), args)
    parametros = {"inicio": args["inicio"], "fim": args["fim"]}
    for name in ("txid", "txIdPresente", "devolucaoPresente"):
        if name in args:
            parametros[name] = args[name] if name == "txid" else args[name] == "true"
    parametros["paginacao"] = {
        "paginaAtual": page,
        "itensPorPagina": per_page,
        "quantidadeDePaginas": max(1, math.ceil(len(items) / per_page)),
        "quantidadeTotalDeItens": len(items),
    }
    return {"parametros": parametros, "pix": items[page * per_page : (page + 1) * per_page]}


# --- refunds ---------------------------------------------------------------------------------


def _refund_error(reason: str, prop: str, value: object = None) -> Problem:
    return invalid("PixDevolucaoInvalida", reason, prop, value)


def _read_refund(body: object) -> dict:
    """Return the checked fields of a ``PUT /pix/{e2eid}/devolucao/{id}`` body."""
    if not isinstance(body, dict):
        raise _refund_error("the body must be a JSON object", "devolucao")
    try:
        if cents(body.get("valor")) <= 0:
            raise ValueError
    except ValueError:
        raise _refund_error(
            "valor must be an amount above 0.00", "devolucao.valor", body.get("valor")
        ) from None
    if body.get("natureza", "ORIGINAL") != "ORIGINAL":
        raise _refund_error(
            "a common Pix is refunded with natureza ORIGINAL",
            "devolucao.natureza",
            body.get("natureza"),
        )
    text = body.get("descricao")
    if text is not None and (not isinstance(text, str) or len(text) > 140):
        raise _refund_error(
            "descricao must be text of at most 140 characters", "devolucao.descricao"
        )
    fields = {"valor": body["valor"], "natureza": "ORIGINAL"}
    if text is not None:
        fields["descricao"] = text
    return fields


def refund(sim: Simulator, e2eid: str, refund_id: str, body: object) -> dict:
    """Ask for the refund ``refund_id`` of the Pix ``e2eid``; it settles a moment later.

    The same id with the same value again returns the refund as it is. It becomes
    ``DEVOLVIDO``, or ``NAO_REALIZADO`` when the refunds would exceed the Pix's value, after
    ``SIM_REFUND_SECONDS``, and a callback carries the Pix with its refunds.

    :raise Problem: unknown Pix (404); a bad id or body, the id used for another value (400).
    """
    if not DEVOLUCAO_ID.fullmatch(refund_id):
        raise _refund_error("id must be 1 to 35 letters and digits", "devolucao.id", refund_id)
    fields = _read_refund(body)
    with sim.store.lock:
        pix = find(sim, e2eid)
        for item in pix.get("devolucoes", []):
            if item["id"] == refund_id:
                if item["valor"] != fields["valor"]:
                    raise _refund_error(
                        "this id is used by a refund of another value", "devolucao.id", refund_id
                    )
                return item
        moment = now()
        item = {
            "id": refund_id,
            "rtrId": return_id(moment),
            **fields,
            "horario": {"solicitacao": stamp(moment)},
            "status": IN_PROCESS,
        }
        pix.setdefault("devolucoes", []).append(item)
        sim.store.save_pix(pix)
    timer = threading.Timer(sim.config["SIM_REFUND_SECONDS"], settle, (sim, e2eid, refund_id))
    timer.daemon = True
    timer.start()
    return item


def settle(sim: Simulator, e2eid: str, refund_id: str) -> None:
    """Settle a refund in process: returned if the refunds still fit the Pix, else not done."""
    with sim.store.lock:
        pix = sim.store.pix(e2eid)
        item = next(i for i in pix["devolucoes"] if i["id"] == refund_id)
        if item["status"] != IN_PROCESS:
            return
        returned = sum(cents(i["valor"]) for i in pix["devolucoes"] if i["status"] == RETURNED)
        if returned + cents(item["valor"]) > cents(pix["valor"]):
            item["status"] = NOT_DONE
            left = reais(cents(pix["valor"]) - returned)
            item["motivo"] = f"the refunds would exceed the Pix's value ({left} left to refund)"
        else:
            item["status"] = RETURNED
            item["horario"]["liquidacao"] = stamp(now())
        sim.store.save_pix(pix)
    if pix.get("txid"):  # the standard calls back only for Pix with a txid
        sim.notifier.send(webhook_url(sim, pix["chave"]), [pix])


def find_refund(sim: Simulator, e2eid: str, refund_id: str) -> dict:
    """Return the refund ``refund_id`` of the Pix ``e2eid``.

    :raise Problem: ``PixNaoEncontrado`` or ``PixDevolucaoNaoEncontrada``.
    """
    for item in find(sim, e2eid).get("devolucoes", []):
        if item["id"] == refund_id:
            return item
    raise Problem("PixDevolucaoNaoEncontrada", 404, f"no refund {refund_id} for the Pix {e2eid}")
