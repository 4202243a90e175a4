#!/bin/sh
# Write /run/pgweir/peers.ini for this replica of the StatefulSet, then
# start pgweir: peer_id is the pod's ordinal + 1, and [peers] names every
# replica by its stable name under the headless Service.
set -eu
ordinal=${HOSTNAME##*-}
{
	echo "[pgweir]"
	echo "peer_id = $((ordinal + 1))"
	echo "[peers]"
	i=0
	while [ "$i" -lt "$REPLICAS" ]; do
		echo "$((i + 1)) = host=$SET_NAME-$i.$PEERS_SERVICE port=6432"
		i=$((i + 1))
	done
} >/run/pgweir/peers.ini
exec pgweir /etc/pgweir/pgweir.ini
