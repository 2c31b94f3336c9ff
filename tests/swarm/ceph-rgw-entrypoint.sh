#!/bin/sh
# The object store of the Swarm test, standing in for the stack's MinIO service: Ceph RGW (one
# monitor, one memstore OSD, radosgw) inside one container, because no MinIO binary or image exists
# on this machine (see /work/shared/design/services-on-this-machine.md section 2 for the recipe).
# MinIO's contract as the generated service uses it: S3 on :9000, keys from MINIO_ROOT_USER and
# MINIO_ROOT_PASSWORD. MinIO's own arguments ("server /data ...") are ignored. Data is in RAM
# (memstore), so a restarted container starts empty, like the tests' host-side RGW.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
D=/tmp/ceph
rm -rf "$D"
mkdir -p "$D/run" "$D/log" "$D/mon" "$D/osd" "$D/rgw"
FSID=$(cat /proc/sys/kernel/random/uuid)
C="$D/ceph.conf"
cat > "$C" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:3300
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 5
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $D/run
pid file = $D/run/\$name.pid
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
keyring = $D/keyring
mon data = $D/mon/\$cluster-\$id
osd data = $D/osd/\$cluster-\$id
[osd]
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 256
osd max object namespace len = 64
[client.rgw.a]
rgw data = $D/rgw
rgw frontends = beast endpoint=0.0.0.0:9000 tcp_nodelay=1
CONF
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a '[v2:127.0.0.1:3300]' --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon -c "$C" -i a -f &
MON=$!
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(ceph -c "$C" osd new "$OSD_UUID")
mkdir -p "$D/osd/ceph-$ID"
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OSD_UUID" 2>/dev/null
ceph-osd -c "$C" -i "$ID" -f &
OSD=$!
radosgw -c "$C" -n client.rgw.a -f &
RGW=$!
trap 'kill $RGW $OSD $MON 2>/dev/null; exit 0' TERM INT
until curl -s -o /dev/null http://127.0.0.1:9000/; do sleep 0.2; done
radosgw-admin -c "$C" user create --uid=harrier --display-name=harrier \
  --access-key="$MINIO_ROOT_USER" --secret-key="$MINIO_ROOT_PASSWORD" >/dev/null
echo "ceph-rgw: S3 on :9000 for $MINIO_ROOT_USER"
# Exit when any daemon dies, so Swarm restarts the whole task.
while kill -0 $MON 2>/dev/null && kill -0 $OSD 2>/dev/null && kill -0 $RGW 2>/dev/null; do sleep 1; done
echo "ceph-rgw: a daemon exited" >&2
exit 1
