// The guest agent members beyond libvirt-dbus 1.4.1 (Domain.GetGuestInfo, AuthorizedSSHKeysGet,
// AuthorizedSSHKeysSet, AgentSetResponseTimeout) on the test driver of a private libvirtd, which
// implements none of them: each call, made through the typed client, comes back as
// org.libvirt.Error with libvirt's message, and the service goes on serving. The calls against a
// real guest agent are in guest-agent-qemu.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DomainProxy } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import { type Fixture, IFACE, startFixture, TEST_PATH } from './fixture.js';
import { connectOn } from './typed.js';

/** Each member with arguments that would be valid on a driver that has it. */
const CALLS: ReadonlyArray<[member: string, call: (d: DomainProxy) => Promise<unknown>]> = [
  ['GetGuestInfo', (d) => d.getGuestInfo(0, 0)],
  ['AuthorizedSSHKeysGet', (d) => d.authorizedSSHKeysGet('root', 0)],
  ['AuthorizedSSHKeysSet', (d) => d.authorizedSSHKeysSet('root', ['ssh-ed25519 AAAA test'], 0)],
  ['AgentSetResponseTimeout', (d) => d.agentSetResponseTimeout(5, 0)],
];

describe('guest agent members on the test driver (unsupported)', { timeout: 120_000 }, () => {
  let fx: Fixture | undefined;
  let dom: DomainProxy;
  before(async () => {
    fx = await startFixture();
    dom = await connectOn(fx.client.conn).domainLookupByName('test');
    assert.equal(dom.objectPath, TEST_PATH);
  });
  after(async () => {
    await fx?.stop();
  });

  for (const [member, call] of CALLS) {
    it(`${member} → org.libvirt.Error "not supported by the connection driver"`, async () => {
      const err = await errorOf(call(dom), DBusError);
      assert.equal(err.errorName, 'org.libvirt.Error');
      assert.match(err.message, new RegExp(`not supported by the connection driver: virDomain${member}$`));
      // The service keeps serving after the error.
      assert.equal(await dom.name, 'test');
    });
  }

  it('a wrong argument signature is refused before libvirt is asked', async () => {
    // Raw: the typed client cannot send AgentSetResponseTimeout with a wrong signature.
    const err = await (fx as Fixture).client.fails(TEST_PATH, IFACE.Domain, 'AgentSetResponseTimeout', 'uu', [5, 0]);
    assert.equal(err.errorName, 'org.freedesktop.DBus.Error.InvalidArgs');
  });
});
