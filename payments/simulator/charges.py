"""Immediate charges (``cob``): create, read, revise, and the payload behind the location."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from payments.pix.brcode import InvalidPixKey, build_dynamic_brcode, normalize_pix_key
from payments.simulator.problems import Problem, invalid
from payments.simulator.values import TXID, cents, now, parse_time, stamp

if TYPE_CHECKING:
    from payments.simulator import Simulator

DEFAULT_EXPIRY = 86400  # the standard's default ``calendario.expiracao``
MAX_EXPIRY = 2**31 - 1
ACTIVE = "ATIVA"
PAID = "CONCLUIDA"
REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
KIND = "CobOperacaoInvalida"


def _bad(reason: str, prop: str, value: object = None) -> Problem:
    return invalid(KIND, reason, prop, value)


def check_txid(txid: str) -> None:
    """Refuse a txid that is not 26 to 35 letters and digits.

    :raise Problem: ``CobOperacaoInvalida``.
    """
    if not TXID.fullmatch(txid):
        raise _bad("txid must be 26 to 35 letters and digits", "cob.txid", txid)


def _expiry(calendario: object, required: bool) -> int | None:
    """Return ``calendario.expiracao`` in seconds (the default when left out)."""
    if calendario is None and not required:
        return None
    if not isinstance(calendario, dict):
        raise _bad("calendario must be an object", "cob.calendario")
    seconds = calendario.get("expiracao", DEFAULT_EXPIRY if required else None)
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_EXPIRY:
        raise _bad(
            "expiracao must be a whole number of seconds above zero",
            "cob.calendario.expiracao",
            seconds,
        )
    return seconds


def _value(valor: object, required: bool) -> dict | None:
    """Return the checked ``valor`` object."""
    if valor is None and not required:
        return None
    if not isinstance(valor, dict):
        raise _bad("valor must be an object with original", "cob.valor")
    try:
        amount = cents(valor.get("original"))
    except ValueError:
        raise _bad(
            "original must be an amount such as 1500.50",
            "cob.valor.original",
            valor.get("original"),
        ) from None
    if amount <= 0:
        raise _bad("original must be above 0.00", "cob.valor.original", valor["original"])
    mode = valor.get("modalidadeAlteracao", 0)
    if mode not in (0, 1) or isinstance(mode, bool):
        raise _bad("modalidadeAlteracao must be 0 or 1", "cob.valor.modalidadeAlteracao", mode)
    return {"original": valor["original"], "modalidadeAlteracao": mode}


def _text(body: dict, name: str, limit: int) -> str | None:
    """Return an optional text field after checking its length."""
    text = body.get(name)
    if text is not None and (not isinstance(text, str) or len(text) > limit):
        raise _bad(f"{name} must be text of at most {limit} characters", f"cob.{name}")
    return text


def _debtor(devedor: object) -> dict | None:
    """Return the checked ``devedor``: a name with either a CPF or a CNPJ."""
    if devedor is None:
        return None
    if not isinstance(devedor, dict) or not isinstance(devedor.get("nome"), str):
        raise _bad("devedor must be an object with nome and cpf or cnpj", "cob.devedor")
    documents = [name for name in ("cpf", "cnpj") if name in devedor]
    if len(documents) != 1 or not isinstance(devedor[documents[0]], str):
        raise _bad("devedor must have either cpf or cnpj", "cob.devedor")
    return {documents[0]: devedor[documents[0]], "nome": devedor["nome"]}


def _extra_info(items: object) -> list | None:
    """Return the checked ``infoAdicionais``."""
    if items is None:
        return None
    good = (
        isinstance(items, list)
        and len(items) <= 50
        and all(
            isinstance(item, dict)
            and isinstance(item.get("nome"), str)
            and isinstance(item.get("valor"), str)
            and len(item["nome"]) <= 50
            and len(item["valor"]) <= 200
            for item in items
        )
    )
    if not good:
        raise _bad("infoAdicionais must be at most 50 {nome, valor} texts", "cob.infoAdicionais")
    return [{"nome": item["nome"], "valor": item["valor"]} for item in items]


def _key(chave: object) -> str:
    """Return the canonical receiver key."""
    if not isinstance(chave, str) or len(chave) > 77:
        raise _bad("chave must be a Pix key", "cob.chave", chave)
    try:
        return normalize_pix_key(chave)
    except InvalidPixKey as exc:
        raise _bad(str(exc), "cob.chave", chave) from None


def read_request(body: object) -> dict:
    """Return the fields of a ``PUT /cob/{txid}`` body, checked and in their canonical form.

    :raise Problem: ``CobOperacaoInvalida`` naming the first wrong field.
    """
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object", "cob")
    fields = {
        "expiracao": _expiry(body.get("calendario"), required=True),
        "devedor": _debtor(body.get("devedor")),
        "valor": _value(body.get("valor"), required=True),
        "chave": _key(body.get("chave")),
        "solicitacaoPagador": _text(body, "solicitacaoPagador", 140),
        "infoAdicionais": _extra_info(body.get("infoAdicionais")),
    }
    return {name: value for name, value in fields.items() if value is not None}


def _cob(txid: str, fields: dict, loc: dict, code: str, created: str) -> dict:
    """Return a new cob (the standard's ``CobGerada``), fields in the standard's order."""
    cob = {
        "calendario": {"criacao": created, "expiracao": fields["expiracao"]},
        "txid": txid,
        "revisao": 0,
        "loc": loc,
        "location": loc["location"],
        "status": ACTIVE,
    }
    if "devedor" in fields:
        cob["devedor"] = fields["devedor"]
    cob |= {"valor": fields["valor"], "chave": fields["chave"]}
    for name in ("solicitacaoPagador", "infoAdicionais"):
        if name in fields:
            cob[name] = fields[name]
    cob["pixCopiaECola"] = code
    return cob


def create(sim: Simulator, txid: str, body: object, host: str) -> dict:
    """Create the cob ``txid``, or return it unchanged when the same body comes again.

    ``host`` (``127.0.0.1:5001``) is where the payload location is served.

    :raise Problem: a bad txid or body, or the txid taken by a charge with other data.
    """
    check_txid(txid)
    fields = read_request(body)
    with sim.store.lock:
        found = sim.store.cob(txid)
        if found is not None:
            cob, request = found
            if request != fields:
                raise _bad(
                    "a charge with this txid exists with other data; revise it with PATCH",
                    "cob.txid",
                    txid,
                )
            return cob
        loc_token = secrets.token_hex(16)
        loc_id = sim.store.new_location(txid, loc_token, fields)
        created = stamp(now())
        location = f"{sim.config['SIM_LOCATION_HOST'] or host}/qr/v2/{loc_token}"
        loc = {"id": loc_id, "location": location, "tipoCob": "cob", "criacao": created}
        code = build_dynamic_brcode(
            url=location, name=sim.config["SIM_MERCHANT_NAME"], city=sim.config["SIM_MERCHANT_CITY"]
        )
        cob = _cob(txid, fields, loc, code, created)
        sim.store.save_cob(cob)
    return cob


def find(sim: Simulator, txid: str) -> dict:
    """Return the cob ``txid`` with the Pix it received (the standard's ``CobCompleta``).

    :raise Problem: ``CobNaoEncontrado``.
    """
    found = sim.store.cob(txid) if TXID.fullmatch(txid) else None
    if found is None:
        raise Problem("CobNaoEncontrado", 404, f"no charge with txid {txid}")
    cob = found[0]
    received = sim.store.pix_of(txid)
    if received:
        cob["pix"] = received
    return cob


def expired(cob: dict) -> bool:
    """Return whether the cob's life (``criacao`` + ``expiracao``) is over."""
    calendario = cob["calendario"]
    end = parse_time(calendario["criacao"]) + timedelta(seconds=calendario["expiracao"])
    return now() >= end


def revise(sim: Simulator, txid: str, body: object) -> dict:
    """Apply a ``PATCH /cob/{txid}``: remove the charge, or revise its expiry, value or text.

    :raise Problem: unknown txid; a charge not ``ATIVA``; a bad body; removal with other changes.
    """
    if not isinstance(body, dict) or not body:
        raise _bad("the body must be a JSON object with what to change", "cob")
    with sim.store.lock:
        cob = find(sim, txid)
        cob.pop("pix", None)
        if cob["status"] != ACTIVE:
            raise _bad(f"the charge is {cob['status']}, not ATIVA", "cob.status", cob["status"])
        if "status" in body:
            if body["status"] != REMOVED:
                raise _bad(f"status may only become {REMOVED}", "cob.status", body["status"])
            if set(body) != {"status"}:
                raise _bad("removing a charge cannot go with other changes", "cob.status")
            cob["status"] = REMOVED
        _revise_fields(cob, body)
        cob["revisao"] += 1
        sim.store.save_cob(cob)
    return cob


def _revise_fields(cob: dict, body: dict) -> None:
    """Change the expiry, value, key, debtor or texts that ``body`` names."""
    seconds = _expiry(body.get("calendario"), required=False)
    if seconds is not None:
        cob["calendario"]["expiracao"] = seconds
    checks = {
        "valor": lambda value: _value(value, required=False),
        "chave": _key,
        "solicitacaoPagador": lambda _: _text(body, "solicitacaoPagador", 140),
        "devedor": _debtor,
        "infoAdicionais": _extra_info,
    }
    for name, check in checks.items():
        if body.get(name) is not None:
            cob[name] = check(body[name])


def payload(sim: Simulator, loc_token: str) -> dict:
    """Return what the location serves: the cob as the standard's ``CobPayload``.

    :raise Problem: ``CobPayloadNaoEncontrado``.
    """
    cob = sim.store.cob_by_location(loc_token) if len(loc_token) == 32 else None
    if cob is None:
        raise Problem(
            "CobPayloadNaoEncontrado", 404, "no charge was found for the requested location"
        )
    calendario = cob["calendario"]
    data = {
        "calendario": {
            "criacao": calendario["criacao"],
            "apresentacao": stamp(now()),
            "expiracao": calendario["expiracao"],
        },
        "txid": cob["txid"],
        "revisao": cob["revisao"],
        "status": cob["status"],
    }
    for name in ("devedor", "valor", "chave", "solicitacaoPagador", "infoAdicionais"):
        if name in cob:
            data[name] = cob[name]
    return data
