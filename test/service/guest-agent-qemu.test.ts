// The guest agent members beyond libvirt-dbus 1.4.1 (Domain.GetGuestInfo, AuthorizedSSHKeysGet,
// AuthorizedSSHKeysSet, AgentSetResponseTimeout) against a real agent: the small test guest of
// tools/sandbox/test-guest.ts (a Debian cloud kernel and an initramfs whose /init runs QEMU's guest
// agent, qemu-ga, on the virtio-serial channel org.qemu.guest_agent.0), booted under TCG by the
// private libvirtd of the QEMU sandbox (test/service/qemu-sandbox.ts), through our service on its
// private system bus. What the agent reports is compared with what the guest was built with and with
// virsh's view of the same domain. A second running domain has no agent channel: its calls fail with
// org.libvirt.Error and the service goes on serving.
// Needs root (the sandbox's mount namespace), qemu-system-x86 and the prepared guest (test/all
// prepares it; without it this suite fails, saying what to run).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OrgLibvirt } from '../../src/client/index.js';
import { type DBusConnection, type Message, Variant } from '../../src/dbus/index.js';
import { VirDomainAuthorizedSSHKeysSetFlags, VirDomainGuestInfoTypes } from '../../src/libvirt/index.js';
import type { SystemSandbox } from '../../tools/sandbox/system-bus.js';
import { GUEST, type TestGuestFiles } from '../../tools/sandbox/test-guest.js';
import { writeGuestDomain } from './guest-domain.js';
import { IFACE } from './iface.js';
import { type QemuSandbox, startQemuSandbox } from './qemu-sandbox.js';

const VM = 'agent-vm';
const UUID = '3f6b2d1e-7a4c-4e8b-9d0f-1c2b3a4d5e6f';
const PATH = `/org/libvirt/QEMU/domain/_${UUID.replace(/-/g, '_')}`;
const BARE_VM = 'no-agent-vm';
const BARE_UUID = '5a1e9c3b-2d4f-4a6b-8c7d-0e1f2a3b4c5d';
const BARE_PATH = `/org/libvirt/QEMU/domain/_${BARE_UUID.replace(/-/g, '_')}`;
/** TCG boot of the guest up to a running agent, generous for a loaded 2-core machine. */
const BOOT_DEADLINE = 120_000;
/** VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED. */
const AGENT_CONNECTED = 1;
const { VIR_DOMAIN_GUEST_INFO_HOSTNAME, VIR_DOMAIN_GUEST_INFO_OS } = VirDomainGuestInfoTypes;
const { VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND, VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE } = VirDomainAuthorizedSSHKeysSetFlags;
const KEYS = [
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq6X0u3l5uYdQk8o9cZt2wJr1eK3p4yM5n6b7c8d9e0 alice@example',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH2f7Qp1r3s5t7u9v1w3x5y7z9A1B3C5D7E9F1G3H5J7 bob@example',
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4n6p8r0t2v4x6z8B0D2F4H6J8L0N2P4R6T8V0X2Z4b carol@example',
];

/** A variant's value with every level of variant removed (the service nests one in another, as the reference). */
function plain(v: unknown): unknown {
  return v instanceof Variant ? plain(v.value) : v;
}

/** A decoded a{sv} as field → value, with its innermost variant signature kept alongside. */
function dictOf(d: unknown): Map<string, { value: unknown; signature: string }> {
  const out = new Map<string, { value: unknown; signature: string }>();
  for (const [k, v] of d as Map<string, Variant>) {
    let inner: unknown = v;
    while (inner instanceof Variant && inner.value instanceof Variant) inner = inner.value;
    out.set(k, { value: plain(v), signature: (inner as Variant).signature });
  }
  return out;
}

/** `virsh guestinfo` / typed-parameter output ("field : value" lines) as field → text. */
function virshFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*:\s?(.*)$/.exec(line);
    if (m?.[1]) out.set(m[1], m[2] ?? '');
  }
  return out;
}

describe('guest agent members against qemu-ga in a small TCG guest', { timeout: 600_000 }, () => {
  let guest: TestGuestFiles | undefined;
  let qs: QemuSandbox | undefined;
  let sandbox: SystemSandbox | undefined;
  let bus: DBusConnection | undefined;
  let images = '';
  const seen: Message[] = [];

  const virsh = (...args: string[]): Promise<string> => (sandbox as SystemSandbox).virsh(...args);
  const call = (path: string, member: string, signature: string, body: unknown[]): Promise<unknown[]> =>
    (bus as DBusConnection).call({ destination: 'org.libvirt', path, interface: IFACE.Domain, member, signature, body, timeout: 60_000 });
  /** The D-Bus error name and message a call fails with. */
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => assert.fail('the call succeeded'),
      (err: Error & { errorName?: string }) => ({ name: err.errorName, message: err.message }),
    );
  const consoleTail = () => {
    try {
      return readFileSync(join(images, 'console.log'), 'utf8').slice(-3000);
    } catch {
      return '(no console log)';
    }
  };

  /** Waits until libvirt reports the guest's agent connected: the AgentEvent signal, then the channel's state in the XML. */
  async function waitForAgent(): Promise<void> {
    const deadline = Date.now() + BOOT_DEADLINE;
    const connected = () => seen.some((m) => m.path === PATH && m.member === 'AgentEvent' && m.body?.[0] === AGENT_CONNECTED);
    while (!connected() || !/<target type='virtio' name='org\.qemu\.guest_agent\.0' state='connected'/.test(await virsh('dumpxml', VM))) {
      const state = (await virsh('domstate', VM)).trim();
      if (state !== 'running') throw new Error(`the guest is ${state}; its console:\n${consoleTail()}`);
      if (Date.now() > deadline)
        throw new Error(`no connected agent within ${BOOT_DEADLINE / 1000} s; the guest's console:\n${consoleTail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    qs = await startQemuSandbox({
      service: 'ours',
      signals: { interface: IFACE.Domain, member: 'AgentEvent' },
      onSignal: (m) => seen.push(m),
      prefix: 'guest-agent-',
      // QEMU writes the guest's console log there.
      mode: 0o777,
    });
    ({ sandbox, bus, images } = qs);
    let xml: string;
    ({ xml, guest } = writeGuestDomain(images, VM, UUID));
    const bareXml = join(images, `${BARE_VM}.xml`);
    writeFileSync(
      bareXml,
      `<domain type='qemu'><name>${BARE_VM}</name><uuid>${BARE_UUID}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`,
    );
    // Transient domains: the teardown has nothing to undefine.
    await virsh('create', xml);
    await virsh('create', bareXml);
    await waitForAgent();
  });

  after(async () => {
    await qs?.stop();
  });

  it('GetGuestInfo returns what the guest has, exactly as virsh guestinfo shows it', async () => {
    const [info] = await call(PATH, 'GetGuestInfo', 'uu', [0, 0]);
    const ours = dictOf(info);
    // What the guest was built with (tools/sandbox/test-guest.ts).
    assert.deepEqual(ours.get('hostname'), { value: GUEST.hostname, signature: 's' });
    assert.equal(ours.get('os.id')?.value, GUEST.os.id);
    assert.equal(ours.get('os.name')?.value, GUEST.os.name);
    assert.equal(ours.get('os.version-id')?.value, GUEST.os.versionId);
    assert.equal(ours.get('os.pretty-name')?.value, GUEST.os.prettyName);
    assert.equal(ours.get('os.kernel-release')?.value, guest?.kernelRelease);
    assert.equal(ours.get('os.machine')?.value, 'x86_64');
    assert.deepEqual(ours.get('user.count'), { value: 1, signature: 'u' });
    assert.equal(ours.get('user.0.name')?.value, GUEST.user);
    // qemu-ga reports seconds, libvirt milliseconds.
    assert.deepEqual(ours.get('user.0.login-time'), { value: BigInt(GUEST.loginTime) * 1000n, signature: 't' });
    assert.equal(ours.get('timezone.name')?.value, 'UTC');
    assert.deepEqual(ours.get('timezone.offset'), { value: 0, signature: 'i' });
    // The whole answer is virsh's, field for field.
    const theirs = virshFields(await virsh('guestinfo', VM));
    assert.deepEqual(new Map([...ours].map(([k, v]) => [k, String(v.value)])), theirs);
  });

  it('GetGuestInfo with types gives only the groups asked for, as virsh guestinfo --hostname --os', async () => {
    const [info] = await call(PATH, 'GetGuestInfo', 'uu', [VIR_DOMAIN_GUEST_INFO_HOSTNAME | VIR_DOMAIN_GUEST_INFO_OS, 0]);
    const ours = dictOf(info);
    assert.ok(
      [...ours.keys()].every((k) => k === 'hostname' || k.startsWith('os.')),
      [...ours.keys()].join(' '),
    );
    assert.equal(ours.get('hostname')?.value, GUEST.hostname);
    const theirs = virshFields(await virsh('guestinfo', VM, '--hostname', '--os'));
    assert.deepEqual(new Map([...ours].map(([k, v]) => [k, String(v.value)])), theirs);
  });

  it('AuthorizedSSHKeysSet then AuthorizedSSHKeysGet round-trip, as virsh get-user-sshkeys sees them', async () => {
    /**
     * Our Get, checked against virsh's: virsh 9.0 prints the agent's keys one after another without
     * a separator (they carry no newline of their own), so the comparison is of the concatenation.
     * Sorted, as the agent keeps its own order.
     */
    const keys = async () => {
      const [got] = (await call(PATH, 'AuthorizedSSHKeysGet', 'su', [GUEST.user, 0])) as [string[]];
      assert.equal(got.join(''), (await virsh('get-user-sshkeys', VM, GUEST.user)).trim());
      return [...got].sort();
    };
    assert.deepEqual(await call(PATH, 'AuthorizedSSHKeysSet', 'sasu', [GUEST.user, KEYS.slice(0, 2), 0]), []);
    assert.deepEqual(await keys(), KEYS.slice(0, 2));
    // APPEND adds to the file, REMOVE takes the given keys out of it.
    await call(PATH, 'AuthorizedSSHKeysSet', 'sasu', [GUEST.user, [KEYS[2]], VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_APPEND]);
    assert.deepEqual(await keys(), KEYS);
    await call(PATH, 'AuthorizedSSHKeysSet', 'sasu', [GUEST.user, [KEYS[0]], VIR_DOMAIN_AUTHORIZED_SSH_KEYS_SET_REMOVE]);
    assert.deepEqual(await keys(), KEYS.slice(1));
    // A user the guest does not have: the agent's error, through libvirt.
    const e = await failure(call(PATH, 'AuthorizedSSHKeysGet', 'su', ['nosuchuser', 0]));
    assert.equal(e.name, 'org.libvirt.Error');
    assert.match(e.message, /nosuchuser/);
  });

  it('AgentSetResponseTimeout: accepted, the agent still answers; a timeout below -2 → org.libvirt.Error', async () => {
    assert.deepEqual(await call(PATH, 'AgentSetResponseTimeout', 'iu', [10, 0]), []);
    const [info] = await call(PATH, 'GetGuestInfo', 'uu', [VIR_DOMAIN_GUEST_INFO_HOSTNAME, 0]);
    assert.equal(dictOf(info).get('hostname')?.value, GUEST.hostname);
    const e = await failure(call(PATH, 'AgentSetResponseTimeout', 'iu', [-3, 0]));
    assert.equal(e.name, 'org.libvirt.Error');
    assert.match(e.message, /timeout/i);
    // Back to libvirt's default (VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_DEFAULT).
    assert.deepEqual(await call(PATH, 'AgentSetResponseTimeout', 'iu', [-1, 0]), []);
  });

  it('the typed client (libvirt-dbus/client) has the four members, typed', async () => {
    const qemu = await OrgLibvirt.connect((sandbox as SystemSandbox).busAddress, 'QEMU', { bus: true });
    try {
      const dom = await qemu.domainLookupByUUID(UUID);
      const info = dictOf(await dom.getGuestInfo(VIR_DOMAIN_GUEST_INFO_HOSTNAME, 0));
      assert.equal(info.get('hostname')?.value, GUEST.hostname);
      await dom.authorizedSSHKeysSet(GUEST.user, [KEYS[0] as string], 0);
      assert.deepEqual(await dom.authorizedSSHKeysGet(GUEST.user, 0), [KEYS[0]]);
      await dom.agentSetResponseTimeout(-1, 0);
    } finally {
      qemu.connection.close();
    }
  });

  it('a domain without an agent channel: each call → org.libvirt.Error, and the service goes on serving', async () => {
    assert.equal((await virsh('domstate', BARE_VM)).trim(), 'running');
    for (const [member, signature, body] of [
      ['GetGuestInfo', 'uu', [0, 0]],
      ['AuthorizedSSHKeysGet', 'su', [GUEST.user, 0]],
      ['AuthorizedSSHKeysSet', 'sasu', [GUEST.user, [KEYS[0]], 0]],
    ] as const) {
      const e = await failure(call(BARE_PATH, member, signature, [...body]));
      assert.equal(e.name, 'org.libvirt.Error', member);
      assert.match(e.message, /agent is not configured/, member);
    }
    // The same service still answers, for both domains.
    const [bareName] = await (bus as DBusConnection).call({
      destination: 'org.libvirt',
      path: BARE_PATH,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [IFACE.Domain, 'Name'],
    });
    assert.equal(plain(bareName), BARE_VM);
    const [info] = await call(PATH, 'GetGuestInfo', 'uu', [VIR_DOMAIN_GUEST_INFO_HOSTNAME, 0]);
    assert.equal(dictOf(info).get('hostname')?.value, GUEST.hostname);
  });
});
