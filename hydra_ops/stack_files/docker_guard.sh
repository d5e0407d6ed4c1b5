#!/bin/sh
# hydra-ops docker guard. Docker before 28 accepts forwarded traffic to a published container port from any
# interface: a LAN neighbour that routes a Docker subnet through this host (moby#45610), or sends crafted packets
# to 127.0.0.1 (moby#41872), reaches services published on loopback only. Into a Docker bridge this lets only
# replies, containers' own traffic, and connections Docker's DNAT brought there for a published address other
# than loopback. `--check` exits 0 when the rules are in place, and changes nothing.
set -eu
ipt="iptables -w"
rules="-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
-i docker0 -j RETURN
-i br-+ -j RETURN
-m conntrack --ctstate DNAT ! --ctorigdst 127.0.0.0/8 -j RETURN
-o docker0 -j DROP
-o br-+ -j DROP"

if [ "${1:-}" = "--check" ]; then
  $ipt -C DOCKER-USER -j HYDRA-GUARD 2>/dev/null || exit 1
  [ "$($ipt -S HYDRA-GUARD | grep -c '^-A HYDRA-GUARD ')" = "$(echo "$rules" | wc -l)" ] || exit 1
  echo "$rules" | while read -r rule; do
    # shellcheck disable=SC2086  # each rule is its words
    $ipt -C HYDRA-GUARD $rule 2>/dev/null || exit 1
  done
  exit 0
fi

$ipt -N HYDRA-GUARD 2>/dev/null || $ipt -F HYDRA-GUARD
echo "$rules" | while read -r rule; do
  # shellcheck disable=SC2086
  $ipt -A HYDRA-GUARD $rule
done
$ipt -C DOCKER-USER -j HYDRA-GUARD 2>/dev/null || $ipt -I DOCKER-USER -j HYDRA-GUARD
