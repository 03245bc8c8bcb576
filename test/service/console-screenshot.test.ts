// Domain.Screenshot on the test driver of a private libvirtd (it draws a PNG), compared byte for
// byte with virsh's screenshot of the same domain; and the console calls' errors from a driver that
// has no consoles, after which the service goes on serving. Calls go through the typed client.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DomainProxy } from '../../src/client/index.js';
import { DBusError } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import { pngSize } from './console-images.js';
import { type Fixture, startFixture, TEST_PATH } from './fixture.js';
import { connectOn } from './typed.js';

describe('Domain.Screenshot and the console calls on the test driver', () => {
  let s: Fixture;
  let dom: DomainProxy;
  before(async () => {
    s = await startFixture();
    dom = await connectOn(s.client.conn).domainLookupByName('test');
    assert.equal(dom.objectPath, TEST_PATH);
  });
  after(async () => {
    await s?.stop();
  });

  it('Screenshot gives the PNG virsh screenshot saves, with its mime type', async () => {
    const { mimeType, image } = await dom.screenshot(0, 0);
    assert.equal(mimeType, 'image/png');
    const file = join(s.libvirtd.dir, 'virsh-shot.png');
    await s.libvirtd.virsh(s.libvirtd.testUri, 'screenshot', 'test', file);
    const fromVirsh = readFileSync(file);
    const size = pngSize(Buffer.from(image));
    assert.ok(size.width > 0 && size.height > 0, `a picture: ${size.width}x${size.height}`);
    assert.deepEqual(size, pngSize(fromVirsh));
    assert.ok(Buffer.from(image).equals(fromVirsh), 'the same bytes as virsh saved');
  });

  it('OpenConsole and OpenChannel answer org.libvirt.Error where the driver has no consoles, and the service goes on', async () => {
    for (const [member, open] of [
      ['OpenConsole', () => dom.openConsole('', 0)],
      ['OpenChannel', () => dom.openChannel('org.example.test', 0)],
    ] as const) {
      const err = await errorOf(open(), DBusError);
      assert.equal(err.errorName, 'org.libvirt.Error', `${member}: ${err.message}`);
      assert.match(err.message, /not supported/);
    }
    assert.equal(await dom.name, 'test');
  });
});
