"""Leaves out of lego's DNS provider list (providers/dns/zz_gen_dns_providers.go, given as the
argument) every provider that needs a DNS service's SDK: Traefik reaches them only through the
DNS challenge of its ACME certificate resolvers, which nothing here uses (no lab issues
certificates, and the cluster never talks to the outside). Six of those SDKs are not served
by the Go module proxy at all, and the rest are most of Traefik's download and build (about
1.8 GB of modules, 11 minutes on 2 cores). The providers that run a local program, call a
plain HTTP endpoint or wait for a person remain."""

import re
import sys
from pathlib import Path

KEEP = {"exec", "httpreq", "manual"}

path = Path(sys.argv[1])
out: list[str] = []
for line in path.read_text().split("\n"):
    imported = re.match(r'\s*"github.com/go-acme/lego/v5/providers/dns/([a-z0-9]+)"$', line)
    made = re.match(r"\s*return ([a-z0-9]+)\.NewDNSProvider", line)
    if imported and imported.group(1) not in KEEP:
        continue
    if made and made.group(1) not in KEEP:
        out.pop()  # its `case` line
        continue
    out.append(line)
path.write_text("\n".join(out))
