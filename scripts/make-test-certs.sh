#!/usr/bin/env bash
# Make a throwaway CA and certificates for the TLS tests (and for trying
# TLS by hand): make-test-certs.sh DIR
#   DIR/ca.crt, ca.key            the test CA
#   DIR/server.crt, server.key    CN=localhost, SAN localhost and 127.0.0.1
#   DIR/client.crt, client.key    CN=alice (for cert authentication)
#   DIR/other-ca.crt              a CA nobody uses (for failing verification)
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
days=30
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days \
	-subj "/CN=pgweir test CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days $days \
	-subj "/CN=some other CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
	-subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out server.crt -days $days -sha256 -extfile server.ext 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
	-subj "/CN=alice" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	-out client.crt -days $days -sha256 -extfile client.ext 2>/dev/null
chmod 600 ./*.key
rm -f ./*.csr ./*.ext ./*.srl
