"""Tenancy: tenants, their VPCs, the WAF sites in each VPC, and API keys.

Loaded from a YAML file for now (the control plane will own it later). Example::

    tenants:
      - id: demo
        name: Demo department
        vpcs:
          - id: vpc-demo
            firewall: {waf: true, ips: false, av: false}
            sites:
              - name: demo-site
                hosts: [demo.local]
                upstream: http://127.0.0.1:8081
                mode: prevent            # or detect
                rulesets: [core]         # packs under rules/waf/
                max_body_bytes: 10485760
            auditing: {retention_days: 90}   # cloud auditing: alerts kept 90 days (omit: kept)
            ips_listeners:               # inline IPS (TCP), active when firewall.ips is true
              - name: demo-tcp
                listen: 127.0.0.1:9000
                upstream: 127.0.0.1:8081
                mode: prevent            # or detect: drop/reject rules only alert
                rulesets: [core]         # packs under rules/ips/
                vars: {HOME_NET: "[127.0.0.0/8]"}
    api_keys:
      - id: demo-analyst
        tenant: demo                     # omitted for provider-admin
        role: analyst                    # provider-admin | tenant-admin | analyst
        sha256: 9f86d0...                # sha256 of the secret; secrets are never stored

A key is presented as ``Bearer <secret>``; the store holds only its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROLES = ("provider-admin", "tenant-admin", "analyst", "rule-maintainer", "dataplane")
# Roles of the provider's own staff and services: their keys belong to no tenant. ``dataplane`` is
# the key WAF/IPS/AV instances use to fetch configuration snapshots from the control plane.
PROVIDER_ROLES = ("provider-admin", "rule-maintainer", "dataplane")
MODES = ("detect", "prevent")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A pack in a site's rulesets: ``core`` (the working tree under rules/waf/) or ``core@1.2.0``, a
# published version the WAF loads from its bundle (shared.packs).
_PACK_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?:@(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)(?:[-+][0-9A-Za-z.+-]{1,64})?)?$")
_HOST = re.compile(r"^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$")


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    tenant_id: str
    vpc_id: str
    hosts: tuple[str, ...]
    upstream: str
    mode: str = "prevent"
    rulesets: tuple[str, ...] = ("core",)
    max_body_bytes: int = 10 * 1024 * 1024
    upstream_timeout: float = 30.0
    crs: CrsSettings | None = None
    exclusions: tuple[Exclusion, ...] = ()
    antivirus: bool = False        # the VPC subscribes to antivirus (firewall.av)
    av_fail_policy: str = "closed"  # scanner down or slow: closed = 503, open = forward; both alert
    shadow: str | None = None      # a published pack version evaluated beside the active one, never acting
    ip_allow: tuple[str, ...] = ()  # CIDRs; when set, every other source address is denied
    ip_deny: tuple[str, ...] = ()   # CIDRs denied


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A tuning exclusion: a rule (by id or tag) off, or one of its targets off, optionally on a path.

    Written as a site policy rather than SecLang so tenants cannot inject rules; the WAF turns it
    into SecRuleRemoveBy*/SecRuleUpdateTargetBy* directives, or ctl: actions scoped to the path.
    """

    rule_id: int | None = None
    tag: str | None = None
    target: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class CrsSettings:
    """The managed OWASP CRS rule set of a site (``rulesets: [crs]``), as cloud WAFs offer it."""

    paranoia_level: int = 1
    inbound_threshold: int = 5
    outbound_threshold: int = 4


@dataclass(frozen=True, slots=True)
class IpsListener:
    """An inline IPS listener of a VPC: TCP accepted on ``listen`` is inspected, then relayed to
    ``upstream``. ``variables`` overrides Suricata rule variables (``HOME_NET``, ``HTTP_PORTS``...)
    for this listener's rules, as a suricata.yaml ``vars`` section would."""

    name: str
    tenant_id: str
    vpc_id: str
    listen_host: str
    listen_port: int
    upstream_host: str
    upstream_port: int
    mode: str = "prevent"
    rulesets: tuple[str, ...] = ("core",)
    variables: tuple[tuple[str, str], ...] = ()
    connect_timeout: float = 10.0
    idle_timeout: float = 600.0
    # ``shadow: core@1.1.0``: a published pack version inspecting the same flows beside the active
    # packs without acting; differences by sid go to the shadow store (services.packs.ips_shadow)
    shadow: str | None = None


@dataclass(frozen=True, slots=True)
class Vpc:
    id: str
    tenant_id: str
    waf: bool = True
    ips: bool = False
    av: bool = False
    sites: tuple[Site, ...] = ()
    ips_listeners: tuple[IpsListener, ...] = ()
    retention_days: int | None = None  # cloud auditing: alerts older than this are deleted (None: kept)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    vpcs: tuple[Vpc, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: str
    sha256: str
    tenant_id: str | None = None

    @property
    def is_provider(self) -> bool:
        return self.role == "provider-admin"


@dataclass(frozen=True)
class Tenancy:
    tenants: tuple[Tenant, ...] = ()
    api_keys: tuple[ApiKey, ...] = ()
    _by_host: dict[str, Site] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for tenant in self.tenants:
            for vpc in tenant.vpcs:
                for site in vpc.sites:
                    for host in site.hosts:
                        self._by_host[host.lower()] = site

    @property
    def sites(self) -> list[Site]:
        return [s for t in self.tenants for v in t.vpcs for s in v.sites]

    @property
    def ips_listeners(self) -> list[IpsListener]:
        """Listeners of the VPCs that have the IPS switched on (``firewall.ips: true``)."""
        return [lst for t in self.tenants for v in t.vpcs if v.ips for lst in v.ips_listeners]

    def site_for_host(self, host: str | None) -> Site | None:
        """The site a ``Host`` header routes to (port stripped, case-insensitive)."""
        if not host:
            return None
        host = host.strip().lower()
        if host.startswith("["):
            host = host[: host.find("]") + 1]
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        return self._by_host.get(host)

    def vpc(self, tenant_id: str, vpc_id: str) -> Vpc | None:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                for vpc in tenant.vpcs:
                    if vpc.id == vpc_id:
                        return vpc
        return None

    def authenticate(self, secret: str) -> ApiKey | None:
        """The key whose hash matches ``secret``, compared in constant time."""
        digest = hash_key(secret)
        found = None
        for key in self.api_keys:
            if hmac.compare_digest(key.sha256, digest):
                found = key
        return found


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class _Reader:
    """Walks the parsed YAML and reports errors as ``file: path.to.field: message``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {where}: {message}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def seq(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def ident(self, d: dict[str, Any], key: str, where: str) -> str:
        value = d.get(key)
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(f"{where}.{key}", f"expected an identifier ([A-Za-z0-9._-], 1-64 chars), got {value!r}")
        return value

    def unknown(self, d: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(d) - allowed)
        if extra:
            raise self.fail(where, f"unknown field(s) {', '.join(extra)}; expected one of {', '.join(sorted(allowed))}")


_TARGET = re.compile(r"^[A-Z_]+(?::[A-Za-z0-9_.\-\[\]/^$*]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_./:\-]{1,128}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./~%\-]*$")


def _exclusions(r: _Reader, value: Any, where: str) -> tuple[Exclusion, ...]:
    out = []
    for i, e in enumerate(r.seq(value, where)):
        ew = f"{where}[{i}]"
        e = r.mapping(e, ew)
        r.unknown(e, {"rule_id", "tag", "target", "path"}, ew)
        rule_id, tag = e.get("rule_id"), e.get("tag")
        if (rule_id is None) == (tag is None):
            raise r.fail(ew, "give exactly one of rule_id or tag")
        if rule_id is not None and (not isinstance(rule_id, int) or isinstance(rule_id, bool) or rule_id <= 0):
            raise r.fail(f"{ew}.rule_id", f"expected a positive rule id, got {rule_id!r}")
        if tag is not None and (not isinstance(tag, str) or not _TAG.match(tag)):
            raise r.fail(f"{ew}.tag", f"expected a rule tag (letters, digits, _ . / : -), got {tag!r}")
        target = e.get("target")
        if target is not None and (not isinstance(target, str) or not _TARGET.match(target)):
            raise r.fail(f"{ew}.target", f"expected a variable such as ARGS:password or REQUEST_COOKIES, got {target!r}")
        path = e.get("path")
        if path is not None and (not isinstance(path, str) or not _PATH.match(path)):
            raise r.fail(f"{ew}.path", f"expected a URL path prefix starting with '/', got {path!r}")
        out.append(Exclusion(rule_id=rule_id, tag=tag, target=target, path=path))
    return tuple(out)


def _cidrs(r: _Reader, value: Any, where: str) -> tuple[str, ...]:
    """IP networks in canonical form (``10.1.2.3/8`` reads as ``10.0.0.0/8``), at most 1000."""
    out = []
    items = r.seq(value, where)
    if len(items) > 1000:
        raise r.fail(where, f"at most 1000 networks, got {len(items)}")
    for i, item in enumerate(items):
        try:
            if not isinstance(item, str):
                raise ValueError("not a string")
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise r.fail(f"{where}[{i}]", f"expected an IP address or CIDR network such as 203.0.113.0/24, "
                                          f"got {item!r}") from None
    return tuple(out)


def _crs_settings(r: _Reader, value: Any, where: str) -> CrsSettings:
    d = r.mapping(value, where)
    r.unknown(d, {"paranoia_level", "inbound_threshold", "outbound_threshold"}, where)
    out = {}
    for key, low, high, default in (("paranoia_level", 1, 4, 1), ("inbound_threshold", 1, 10000, 5),
                                    ("outbound_threshold", 1, 10000, 4)):
        v = d.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise r.fail(f"{where}.{key}", f"expected an integer from {low} to {high}, got {v!r}")
        out[key] = v
    return CrsSettings(**out)


_VAR_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_VAR_VALUE = re.compile(r"^[A-Za-z0-9_.:/!\[\], $-]{1,4096}$")


def _host_port(r: _Reader, value: Any, where: str) -> tuple[str, int]:
    """``127.0.0.1:9000`` or ``[::1]:9000``."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", value) if isinstance(value, str) else None
    if m is None:
        raise r.fail(where, f"expected HOST:PORT such as 127.0.0.1:9000, got {value!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 < port < 65536:
        raise r.fail(where, f"port out of range 1-65535 in {value!r}")
    return host, port


def _ips_listeners(r: _Reader, value: Any, where: str, tid: str, vid: str,
                   seen: dict[tuple[str, int], str]) -> tuple[IpsListener, ...]:
    out: list[IpsListener] = []
    names: set[str] = set()
    for i, e in enumerate(r.seq(value, where)):
        ew = f"{where}[{i}]"
        e = r.mapping(e, ew)
        r.unknown(e, {"name", "listen", "upstream", "mode", "rulesets", "vars", "connect_timeout",
                      "idle_timeout", "shadow"}, ew)
        name = r.ident(e, "name", ew)
        if name in names:
            raise r.fail(f"{ew}.name", f"duplicate listener name {name!r} in this VPC")
        names.add(name)
        listen = _host_port(r, e.get("listen"), f"{ew}.listen")
        if listen in seen:
            raise r.fail(f"{ew}.listen", f"{e['listen']} is already the listener {seen[listen]}")
        seen[listen] = f"{tid}/{vid}/{name}"
        upstream = _host_port(r, e.get("upstream"), f"{ew}.upstream")
        mode = e.get("mode", "prevent")
        if mode not in MODES:
            raise r.fail(f"{ew}.mode", f"expected one of {', '.join(MODES)}, got {mode!r}")
        rulesets = r.seq(e.get("rulesets", ["core"]), f"{ew}.rulesets")
        if not all(isinstance(x, str) and _PACK_REF.match(x) for x in rulesets):
            raise r.fail(f"{ew}.rulesets", f"expected IPS pack names (core, or core@1.2.0 for a published version), "
                                           f"got {rulesets!r}")
        if len({x.partition("@")[0] for x in rulesets}) != len(rulesets):
            raise r.fail(f"{ew}.rulesets", f"a pack may appear once, got {rulesets!r}")
        shadow = e.get("shadow")
        if shadow is not None and not (isinstance(shadow, str) and "@" in shadow and _PACK_REF.match(shadow)):
            raise r.fail(f"{ew}.shadow", f"expected a published pack version such as core@1.3.0, got {shadow!r}")
        variables = []
        for key, val in r.mapping(e.get("vars") or {}, f"{ew}.vars").items():
            if not isinstance(key, str) or not _VAR_NAME.match(key):
                raise r.fail(f"{ew}.vars", f"expected a rule variable name such as HOME_NET, got {key!r}")
            if isinstance(val, list):
                val = "[" + ",".join(str(x) for x in val) + "]"
            if isinstance(val, int) and not isinstance(val, bool):
                val = str(val)
            if not isinstance(val, str) or not _VAR_VALUE.match(val):
                raise r.fail(f"{ew}.vars.{key}", f"expected an address or port group, got {val!r}")
            variables.append((key, val))
        timeouts = {}
        for key, default in (("connect_timeout", 10.0), ("idle_timeout", 600.0)):
            t = e.get(key, default)
            if not isinstance(t, (int, float)) or isinstance(t, bool) or t <= 0:
                raise r.fail(f"{ew}.{key}", f"expected seconds > 0, got {t!r}")
            timeouts[key] = float(t)
        out.append(IpsListener(name=name, tenant_id=tid, vpc_id=vid, listen_host=listen[0], listen_port=listen[1],
                               upstream_host=upstream[0], upstream_port=upstream[1], mode=mode,
                               rulesets=tuple(rulesets), variables=tuple(variables), shadow=shadow, **timeouts))
    return tuple(out)


def parse_tenancy(data: Any, source: str = "<tenancy>") -> Tenancy:
    r = _Reader(source)
    root = r.mapping(data or {}, "(top)")
    r.unknown(root, {"tenants", "api_keys"}, "(top)")
    tenants: list[Tenant] = []
    hosts_seen: dict[str, str] = {}
    listens_seen: dict[tuple[str, int], str] = {}
    tenant_ids: set[str] = set()
    for ti, t in enumerate(r.seq(root.get("tenants"), "tenants")):
        tw = f"tenants[{ti}]"
        t = r.mapping(t, tw)
        r.unknown(t, {"id", "name", "vpcs"}, tw)
        tid = r.ident(t, "id", tw)
        if tid in tenant_ids:
            raise r.fail(f"{tw}.id", f"duplicate tenant id {tid!r}")
        tenant_ids.add(tid)
        vpcs = []
        for vi, v in enumerate(r.seq(t.get("vpcs"), f"{tw}.vpcs")):
            vw = f"{tw}.vpcs[{vi}]"
            v = r.mapping(v, vw)
            r.unknown(v, {"id", "firewall", "sites", "ips_listeners", "auditing"}, vw)
            vid = r.ident(v, "id", vw)
            auditing = r.mapping(v.get("auditing") or {}, f"{vw}.auditing")
            r.unknown(auditing, {"retention_days"}, f"{vw}.auditing")
            retention = auditing.get("retention_days")
            if retention is not None and (not isinstance(retention, int) or isinstance(retention, bool)
                                          or not 1 <= retention <= 3650):
                raise r.fail(f"{vw}.auditing.retention_days", f"expected whole days from 1 to 3650, got {retention!r}")
            fw = r.mapping(v.get("firewall") or {}, f"{vw}.firewall")
            r.unknown(fw, {"waf", "ips", "av"}, f"{vw}.firewall")
            flags = {}
            for k in ("waf", "ips", "av"):
                val = fw.get(k, k == "waf")
                if not isinstance(val, bool):
                    raise r.fail(f"{vw}.firewall.{k}", f"expected true or false, got {val!r}")
                flags[k] = val
            sites = []
            for si, s in enumerate(r.seq(v.get("sites"), f"{vw}.sites")):
                sw = f"{vw}.sites[{si}]"
                s = r.mapping(s, sw)
                r.unknown(s, {"name", "hosts", "upstream", "mode", "rulesets", "max_body_bytes",
                              "upstream_timeout", "crs", "exclusions", "av_fail_policy", "shadow",
                              "ip_allow", "ip_deny"}, sw)
                name = r.ident(s, "name", sw)
                hosts = r.seq(s.get("hosts"), f"{sw}.hosts")
                if not hosts:
                    raise r.fail(f"{sw}.hosts", "a site needs at least one host name")
                for host in hosts:
                    if not isinstance(host, str) or not _HOST.match(host):
                        raise r.fail(f"{sw}.hosts", f"invalid host name {host!r}")
                    if host.lower() in hosts_seen:
                        raise r.fail(f"{sw}.hosts", f"host {host!r} is already routed to site {hosts_seen[host.lower()]}")
                    hosts_seen[host.lower()] = name
                upstream = s.get("upstream")
                parts = urlsplit(upstream) if isinstance(upstream, str) else None
                if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                    raise r.fail(f"{sw}.upstream", f"expected an http(s) URL, got {upstream!r}")
                mode = s.get("mode", "prevent")
                if mode not in MODES:
                    raise r.fail(f"{sw}.mode", f"expected one of {', '.join(MODES)}, got {mode!r}")
                rulesets = r.seq(s.get("rulesets", ["core"]), f"{sw}.rulesets")
                if not all(isinstance(x, str) and _PACK_REF.match(x) for x in rulesets):
                    raise r.fail(f"{sw}.rulesets", f"expected pack names (core, or core@1.2.0 for a published version), got {rulesets!r}")
                if len({x.partition("@")[0] for x in rulesets}) != len(rulesets):
                    raise r.fail(f"{sw}.rulesets", f"a pack may appear once, got {rulesets!r}")
                shadow = s.get("shadow")
                if shadow is not None and not (isinstance(shadow, str) and "@" in shadow and _PACK_REF.match(shadow)):
                    raise r.fail(f"{sw}.shadow", f"expected a published pack version such as core@1.3.0, got {shadow!r}")
                max_body = s.get("max_body_bytes", 10 * 1024 * 1024)
                if not isinstance(max_body, int) or isinstance(max_body, bool) or max_body < 0:
                    raise r.fail(f"{sw}.max_body_bytes", f"expected a non-negative integer, got {max_body!r}")
                timeout = s.get("upstream_timeout", 30.0)
                if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
                    raise r.fail(f"{sw}.upstream_timeout", f"expected seconds > 0, got {timeout!r}")
                fail_policy = s.get("av_fail_policy", "closed")
                if fail_policy not in ("open", "closed"):
                    raise r.fail(f"{sw}.av_fail_policy", f"expected open or closed, got {fail_policy!r}")
                crs = None
                if "crs" in rulesets or "crs" in s:
                    crs = _crs_settings(r, s.get("crs") or {}, f"{sw}.crs")
                ip_lists = {key: _cidrs(r, s.get(key), f"{sw}.{key}") for key in ("ip_allow", "ip_deny")}
                sites.append(Site(name=name, tenant_id=tid, vpc_id=vid, hosts=tuple(hosts), **ip_lists,
                                  upstream=upstream.rstrip("/"), mode=mode, rulesets=tuple(rulesets),
                                  max_body_bytes=max_body, upstream_timeout=float(timeout), crs=crs,
                                  exclusions=_exclusions(r, s.get("exclusions"), f"{sw}.exclusions"),
                                  antivirus=flags["av"], av_fail_policy=fail_policy, shadow=shadow))
            listeners = _ips_listeners(r, v.get("ips_listeners"), f"{vw}.ips_listeners", tid, vid, listens_seen)
            vpcs.append(Vpc(id=vid, tenant_id=tid, sites=tuple(sites), ips_listeners=listeners,
                            retention_days=retention, **flags))
        name = t.get("name", tid)
        if not isinstance(name, str):
            raise r.fail(f"{tw}.name", "expected a string")
        tenants.append(Tenant(id=tid, name=name, vpcs=tuple(vpcs)))
    keys = []
    key_ids: set[str] = set()
    for ki, k in enumerate(r.seq(root.get("api_keys"), "api_keys")):
        kw = f"api_keys[{ki}]"
        k = r.mapping(k, kw)
        r.unknown(k, {"id", "tenant", "role", "sha256"}, kw)
        kid = r.ident(k, "id", kw)
        if kid in key_ids:
            raise r.fail(f"{kw}.id", f"duplicate key id {kid!r}")
        key_ids.add(kid)
        role = k.get("role")
        if role not in ROLES:
            raise r.fail(f"{kw}.role", f"expected one of {', '.join(ROLES)}, got {role!r}")
        tenant = k.get("tenant")
        if role in PROVIDER_ROLES:
            if tenant is not None:
                raise r.fail(f"{kw}.tenant", f"a {role} key belongs to no tenant")
        elif tenant not in tenant_ids:
            raise r.fail(f"{kw}.tenant", f"unknown tenant {tenant!r}")
        digest = k.get("sha256")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise r.fail(f"{kw}.sha256", "expected the key's SHA-256 as 64 lowercase hex digits")
        keys.append(ApiKey(id=kid, role=role, sha256=digest, tenant_id=tenant))
    return Tenancy(tenants=tuple(tenants), api_keys=tuple(keys))


def load_tenancy(path: str | Path) -> Tenancy:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_tenancy(data, str(path))
