// A throwaway PKI for TLS tests: a CA, and server and client certificates for localhost/127.0.0.1,
// in libvirt's client file names (cacert.pem, clientcert.pem, clientkey.pem) plus server.pem/server.key.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Writes the PKI into `into`, the CA named `cn`. */
export function makePki(into: string, cn: string): void {
  mkdirSync(into, { recursive: true });
  const sh = `set -e
cd '${into}'
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out cacert.pem -days 2 -subj '/CN=${cn}' 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf
  openssl x509 -req -in $who.csr -CA cacert.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 2 -extfile ext.cnf 2>/dev/null
done
cp client.pem clientcert.pem
cp client.key clientkey.pem`;
  execFileSync('sh', ['-c', sh]);
}
