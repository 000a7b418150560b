#!/usr/bin/env bash
# make_certs.sh DIR: generates the tls test PKI into DIR with the openssl
# CLI (nothing is committed). All keys are ECDSA P-256, signatures SHA-256
# (TS-0003 clause 10.1.1.1).
#   ca.pem            trust anchor
#   mef.pem/key       FQDN cert, SAN dNSName mef.example.com
#   maf.pem/key       FQDN cert, SAN dNSName maf.example.com
#   ae.pem/key        AE-ID cert, SAN URI //sp.example.com/CAE01
#   cse.pem/key       CSE-ID cert, SAN dNSName cse1.sp.example.com
#   expired.pem/key   mef.example.com, validity ended in 2020
#   wrongsan.pem/key  SAN dNSName other.example.com
#   untrusted.pem/key mef.example.com issued by a CA nobody trusts
#   nodigsig.pem/key  mef.example.com, keyUsage without digitalSignature
#   wildcard.pem/key  SAN dNSName *.example.com
#   inter.pem/key     intermediate CA issued by ca
#   mefint.pem/key    mef.example.com issued by inter (the file holds the leaf only)
#   ca-inter.pem      ca.pem and inter.pem, one store for both
#   weakint.pem/key   intermediate CA issued by ca with an RSA-512 key (the
#                     one exception to P-256: below every OpenSSL security
#                     level but 0, so whatever the system's default is)
#   mefweak.pem/key   mef.example.com issued by weakint (the leaf only)
#   ca-weakint.pem    ca.pem and weakint.pem
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }

mkca() {  # name
  key "$1"
  openssl req -new -x509 -key "$1.key" -sha256 -days 30 -subj "/CN=$1 test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.pem" 2>/dev/null
  mkdir -p "$1.db"
  : > "$1.db/index.txt"
  echo 01 > "$1.db/serial"
}

mkint() {  # name parent [rsa512]: an intermediate CA signed by |parent|
  if [ "${3:-}" = rsa512 ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out "$1.key" 2>/dev/null
  else
    key "$1"
  fi
  openssl req -new -key "$1.key" -subj "/CN=$1 test CA" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial 0x1001 -days 30 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
  mkdir -p "$1.db"
  : > "$1.db/index.txt"
  echo 01 > "$1.db/serial"
}

# leaf NAME CA SAN KEYUSAGE [STARTDATE ENDDATE]
leaf() {
  local name=$1 ca=$2 san=$3 ku=$4 start=${5:-} end=${6:-}
  key "$name"
  openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
  cat > "$name.ext" <<EXT
[ca]
default_ca = ca_sect
[ca_sect]
database = $ca.db/index.txt
serial = $ca.db/serial
new_certs_dir = $ca.db
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[pol]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,$ku
subjectAltName = $san
EXT
  local dates=(-days 30)
  if [ -n "$start" ]; then dates=(-startdate "$start" -enddate "$end"); fi
  openssl ca -batch -config "$name.ext" -extensions ext -cert "$ca.pem" -keyfile "$ca.key" \
    -in "$name.csr" -out "$name.pem" -notext "${dates[@]}" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

mkca ca
mkca rogue
leaf mef ca "DNS:mef.example.com" digitalSignature
leaf maf ca "DNS:maf.example.com" digitalSignature
leaf ae ca "URI://sp.example.com/CAE01" digitalSignature
leaf cse ca "DNS:cse1.sp.example.com" digitalSignature
leaf expired ca "DNS:mef.example.com" digitalSignature 20190101000000Z 20200101000000Z
leaf wrongsan ca "DNS:other.example.com" digitalSignature
leaf untrusted rogue "DNS:mef.example.com" digitalSignature
leaf nodigsig ca "DNS:mef.example.com" keyAgreement
leaf wildcard ca "DNS:*.example.com" digitalSignature
mkint inter ca
leaf mefint inter "DNS:mef.example.com" digitalSignature
cat ca.pem inter.pem > ca-inter.pem
mkint weakint ca rsa512
leaf mefweak weakint "DNS:mef.example.com" digitalSignature
cat ca.pem weakint.pem > ca-weakint.pem
