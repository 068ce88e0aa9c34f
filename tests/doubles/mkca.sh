#!/bin/sh
# Make throw-away TLS material for the test doubles (EC P-256, short validity).
#
#   mkca.sh OUTDIR
#
# OUTDIR/ca.pem, ca.key            the test CA
#        server.pem, server.key    localhost (DNS:localhost, IP:127.0.0.1, IP:::1), by ca
#        wrong.pem, wrong.key      wrong.example only, by ca (host-name mismatch tests)
#        client.pem, client.key    a TLS client certificate, by ca (mutual TLS tests)
#        other-ca.pem, other-ca.key  an unrelated CA ("unknown CA" tests)
#        capath/                   ca.pem in a hashed directory (CURLOPT_CAPATH tests)
#
# Idempotent: material that exists and stays valid for another hour is kept.
# Private keys are created mode 0600. Needs only the openssl CLI.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
days=2
umask 077
mkdir -p "$out"
cd "$out"

fresh() { # fresh NAME: certificate NAME.pem exists and is valid for >= 1 hour
	[ -s "$1.pem" ] && [ -s "$1.key" ] && openssl x509 -in "$1.pem" -noout -checkend 3600 >/dev/null 2>&1
}

newkey() { # newkey NAME
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key.tmp" 2>/dev/null
	mv -f "$1.key.tmp" "$1.key"
}

mkca() { # mkca NAME SUBJECT
	fresh "$1" && return 0
	newkey "$1"
	openssl req -x509 -new -key "$1.key" -sha256 -days "$days" -subj "$2" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$1.pem.tmp" 2>/dev/null
	mv -f "$1.pem.tmp" "$1.pem"
	# a new CA invalidates everything it signed
	[ "$1" = ca ] && rm -f server.pem wrong.pem client.pem
	return 0
}

mkleaf() { # mkleaf NAME CN EXTENSIONS
	fresh "$1" && return 0
	newkey "$1"
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"authorityKeyIdentifier=keyid" "$3" > "$1.ext"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-sha256 -days "$days" -extfile "$1.ext" -out "$1.pem.tmp" 2>/dev/null
	mv -f "$1.pem.tmp" "$1.pem"
	rm -f "$1.csr" "$1.ext"
}

mkca ca "/CN=dbroker test CA"
mkca other-ca "/CN=dbroker unrelated test CA"
mkleaf server localhost "extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
mkleaf wrong wrong.example "extendedKeyUsage=serverAuth
subjectAltName=DNS:wrong.example"
mkleaf client "dbroker test client" "extendedKeyUsage=clientAuth"

mkdir -p capath
cp -f ca.pem capath/ca.pem
openssl rehash capath >/dev/null 2>&1 || c_rehash capath >/dev/null 2>&1
chmod 0644 ca.pem other-ca.pem server.pem wrong.pem client.pem
