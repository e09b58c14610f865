// The harness's egress policy (host-harness/src/transport/egress.rs) in JS, for SaaS
// mode: what the input implies (Textract, S3 and STS in its region over https, an
// endpoint override that is an https AWS service host) plus the operator's entries
// (a scenario's allowHosts, i.e. `--allow-host`). Same pattern rules: `host` (any
// port), `host:port`, `*.suffix` (subdomains only); IP literals in any spelling are
// compared as the address they are, and reach private addresses only when the
// operator named them exactly.

/** An IP literal: bracketed or bare IPv6, or IPv4 in any spelling inet_aton accepts. */
export function parseIp(host) {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const v6 = parseIpv6(bare);
  if (v6) return { v: 6, segs: v6 };
  const v4 = parseIpv4Any(bare);
  return v4 === null ? null : { v: 4, n: v4 };
}

function parseIpv4Any(text) {
  const parts = text.split(".");
  if (parts.length === 0 || parts.length > 4) return null;
  const values = [];
  for (const part of parts) {
    let digits, radix;
    if (part.startsWith("0x")) [digits, radix] = [part.slice(2), 16];
    else if (part.length > 1 && part.startsWith("0")) [digits, radix] = [part.slice(1), 8];
    else [digits, radix] = [part, 10];
    if (digits === "" && radix !== 16) return null;
    const ok = { 16: /^[0-9a-fA-F]*$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/ }[radix];
    if (!ok.test(digits)) return null;
    const value = digits === "" ? 0n : BigInt((radix === 16 ? "0x" : radix === 8 ? "0o" : "") + digits);
    if (value > 0xffffffffffffffffn) return null;
    values.push(value);
  }
  const last = values.pop();
  if (values.some((v) => v > 255n)) return null;
  const room = 8n * BigInt(4 - values.length);
  if (room < 64n && last >= 1n << room) return null;
  let addr = 0n;
  values.forEach((v, i) => (addr |= v << BigInt(24 - 8 * i)));
  addr |= last;
  return addr > 0xffffffffn ? null : Number(addr);
}

function parseIpv6(text) {
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s) => {
    if (s === "") return [];
    const out = [];
    const parts = s.split(":");
    for (const [i, p] of parts.entries()) {
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(p) ? p.split(".").map(Number) : null;
        if (!v4 || v4.some((o) => o > 255)) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  if (head.length + tail.length > 7) return null;
  return [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
}

/** IPv4-mapped and NAT64 IPv6 addresses as the IPv4 address they reach. */
export function canonicalIp(ip) {
  if (ip.v === 6) {
    const s = ip.segs;
    const mapped = s.slice(0, 5).every((x) => x === 0) && s[5] === 0xffff;
    const nat64 = s[0] === 0x64 && s[1] === 0xff9b && s.slice(2, 6).every((x) => x === 0);
    if (mapped || nat64) return { v: 4, n: ((s[6] << 16) | s[7]) >>> 0 };
  }
  return ip;
}

function ipText(ip) {
  if (ip.v === 4) return [24, 16, 8, 0].map((b) => (ip.n >>> b) & 255).join(".");
  const s = ip.segs;
  // Rust's Display: the longest run (over one group) of zero groups becomes "::".
  let best = [0, 0];
  for (let i = 0; i < 8; ) {
    if (s[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && s[j] === 0) j++;
    if (j - i > best[1] - best[0]) best = [i, j];
    i = j;
  }
  const hex = (a) => a.map((x) => x.toString(16)).join(":");
  if (best[1] - best[0] > 1) return hex(s.slice(0, best[0])) + "::" + hex(s.slice(best[1]));
  return hex(s);
}

/** A host as compared: lower case, no trailing dot, an IP literal as its canonical text. */
export function normalizeHost(host) {
  const h = host.trim().replace(/\.+$/, "").toLowerCase();
  const ip = parseIp(h);
  return ip ? ipText(canonicalIp(ip)) : h;
}

export function isPublic(ip) {
  ip = canonicalIp(ip);
  if (ip.v === 4) {
    const o = [24, 16, 8, 0].map((b) => (ip.n >>> b) & 255);
    return !(
      o[0] === 0 || o[0] === 10 || o[0] === 127 ||
      (o[0] === 100 && o[1] >= 64 && o[1] < 128) ||
      (o[0] === 169 && o[1] === 254) ||
      (o[0] === 172 && o[1] >= 16 && o[1] < 32) ||
      (o[0] === 192 && o[1] === 168) ||
      (o[0] === 192 && o[1] === 0 && (o[2] === 0 || o[2] === 2)) ||
      (o[0] === 198 && (o[1] === 18 || o[1] === 19)) ||
      (o[0] === 198 && o[1] === 51 && o[2] === 100) ||
      (o[0] === 203 && o[1] === 0 && o[2] === 113) ||
      o[0] >= 224
    );
  }
  const s = ip.segs;
  const zero = (a) => a.every((x) => x === 0);
  return !(
    zero(s) || (zero(s.slice(0, 7)) && s[7] === 1) ||
    (s[0] & 0xffc0) === 0xfe80 || (s[0] & 0xfe00) === 0xfc00 || (s[0] & 0xff00) === 0xff00 ||
    (s[0] === 0x2001 && s[1] === 0x0db8) ||
    (s[0] === 0x0100 && zero(s.slice(1, 4))) ||
    zero(s.slice(0, 6))
  );
}

export function isAwsServiceHost(host, region) {
  host = host.replace(/\.+$/, "").toLowerCase();
  const suffixes = region.startsWith("cn-")
    ? [".amazonaws.com.cn", ".api.amazonwebservices.com.cn"]
    : [".amazonaws.com", ".api.aws"];
  const dnsName = host.split(".").every((l) => /^[a-zA-Z0-9-]+$/.test(l));
  return dnsName && suffixes.some((s) => host.length > s.length && host.endsWith(s));
}

const text = (v) => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);
const field = (v, ...path) => path.reduce((o, k) => (o && typeof o === "object" && !Array.isArray(o) ? o[k] : undefined), v);

/** `configuration.endpoint` as [host:port, host, https]. */
function endpointTarget(v) {
  const endpoint = text(field(v, "configuration", "endpoint"));
  if (!endpoint) return null;
  const https = !endpoint.toLowerCase().startsWith("http://");
  const at = endpoint.indexOf("://");
  const rest = at >= 0 ? endpoint.slice(at + 3) : endpoint;
  const authority = rest.split(/[/?#]/)[0];
  if (authority === "" || authority.includes("@")) return null;
  const end = authority.lastIndexOf("]");
  const hasPort = end >= 0 ? authority.slice(end).includes(":") : authority.includes(":");
  const target = hasPort ? authority : `${authority}:${https ? 443 : 80}`;
  return [target, target.slice(0, target.lastIndexOf(":")), https];
}

export class EgressPolicy {
  patterns = [];

  add(pattern, origin) {
    pattern = pattern.trim().toLowerCase();
    if (pattern === "") return;
    let host = pattern;
    let port = null;
    const colon = pattern.lastIndexOf(":");
    if (colon >= 0) {
      const [h, p] = [pattern.slice(0, colon), pattern.slice(colon + 1)];
      if ((!h.includes(":") || h.endsWith("]")) && /^\+?\d+$/.test(p) && Number(p) <= 65535) {
        [host, port] = [h, Number(p)];
      }
    }
    const entry = { host: normalizeHost(host), port, origin };
    const same = (e) => e.host === entry.host && e.port === entry.port && e.origin === entry.origin;
    if (!this.patterns.some(same)) this.patterns.push(entry);
  }

  /** An operator's entry (`--allow-host`). */
  allow(pattern) {
    this.add(pattern, "operator");
  }

  static matches(p, host, port) {
    const ok = p.host.startsWith("*.")
      ? host.length > p.host.length - 1 && host.endsWith(p.host.slice(1))
      : p.host === host;
    return ok && (p.port === null || p.port === port);
  }

  /** "exact" (named by the operator: any address), "public" (implied or wildcard), or null. */
  admission(host, port) {
    host = normalizeHost(host);
    let found = null;
    for (const p of this.patterns.filter((p) => EgressPolicy.matches(p, host, port))) {
      if (p.origin !== "implied" && !p.host.startsWith("*.")) return "exact";
      found = "public";
    }
    return found;
  }

  /** The `runtime.operator-allows` import: the operator's own entries only. */
  operatorAllows(host, port) {
    host = normalizeHost(host);
    return this.patterns.some((p) => p.origin === "operator" && EgressPolicy.matches(p, host, port));
  }

  addressAllowed(ip, admission) {
    return admission === "exact" || isPublic(ip);
  }

  allowRegion(region) {
    if (region === "" || !/^[a-zA-Z0-9-]+$/.test(region)) return;
    const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    for (const host of [
      `textract.${region}.${suffix}:443`,
      `textract-fips.${region}.${suffix}:443`,
      `s3.${region}.${suffix}:443`,
      `*.s3.${region}.${suffix}:443`,
      `sts.${region}.${suffix}:443`,
    ]) {
      this.add(host, "implied");
    }
  }

  /** What an input implies in SaaS mode (EgressPolicy::implied_by). */
  static impliedBy(input) {
    const policy = new EgressPolicy();
    let v;
    try {
      v = JSON.parse(input);
    } catch {
      return policy;
    }
    // configuration.region overrides an awsCredential's region, as in the connector.
    const region = text(field(v, "configuration", "region")) ?? text(field(v, "awsCredential", "region"));
    if (region) policy.allowRegion(region);
    const target = endpointTarget(v);
    if (target && target[2] && isAwsServiceHost(target[1], region ?? "")) policy.add(target[0], "implied");
    return policy;
  }
}
