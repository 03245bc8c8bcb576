// The guest agent members beyond libvirt-dbus 1.4.1 (Domain.GetGuestInfo, AuthorizedSSHKeysGet,
// AuthorizedSSHKeysSet, AgentSetResponseTimeout) on the test driver of a private libvirtd, which
// implements none of them: each call comes back as org.libvirt.Error with libvirt's message, and the
// service goes on serving. The calls against a real guest agent are in guest-agent-qemu.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Fixture, IFACE, startFixture, TEST_PATH } from './fixture.js';

/** Each member with arguments that would be valid on a driver that has it. */
const CALLS: ReadonlyArray<[member: string, signature: string, body: unknown[]]> = [
  ['GetGuestInfo', 'uu', [0, 0]],
  ['AuthorizedSSHKeysGet', 'su', ['root', 0]],
  ['AuthorizedSSHKeysSet', 'sasu', ['root', ['ssh-ed25519 AAAA test'], 0]],
  ['AgentSetResponseTimeout', 'iu', [5, 0]],
];

describe('guest agent members on the test driver (unsupported)', { timeout: 120_000 }, () => {
  let fx: Fixture | undefined;
  before(async () => {
    fx = await startFixture();
  });
  after(async () => {
    await fx?.stop();
  });

  for (const [member, signature, body] of CALLS) {
    it(`${member} → org.libvirt.Error "not supported by the connection driver"`, async () => {
      const c = (fx as Fixture).client;
      const err = await c.fails(TEST_PATH, IFACE.Domain, member, signature, body);
      assert.equal(err.errorName, 'org.libvirt.Error');
      assert.match(err.message, new RegExp(`not supported by the connection driver: virDomain${member}$`));
      // The service keeps serving after the error.
      assert.equal(await c.get(TEST_PATH, IFACE.Domain, 'Name'), 'test');
    });
  }

  it('a wrong argument signature is refused before libvirt is asked', async () => {
    const err = await (fx as Fixture).client.fails(TEST_PATH, IFACE.Domain, 'AgentSetResponseTimeout', 'uu', [5, 0]);
    assert.equal(err.errorName, 'org.freedesktop.DBus.Error.InvalidArgs');
  });
});
