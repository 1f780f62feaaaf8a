#!/usr/bin/python3
"""A stand-in for AXIS OS's com.axis.HTTPConf1 on a private test bus (host-native/test/dbus.native.test.ts).

The reference (axis-os.md §3.1): GetCredentials(s username) on /com/axis/HTTPConf1/VAPIXServiceAccounts1,
interface com.axis.HTTPConf1.VAPIXServiceAccounts1, answers ('a0-<username>:<random password>',).

Usage: VIGIL_TEST_BUS=<bus address> /usr/bin/python3 fake-httpconf1.py MODE [PASSWORD]
  ok           answers 'a0-<username>:<PASSWORD>' (signature s)
  error        answers the error org.freedesktop.DBus.Error.AccessDenied
  silent       never answers
  no-colon     answers a string that is not user:password
  sig-i, sig-ss, sig-as   answers with that signature instead of s
Prints 'ready' once it owns the name and 'call <username>' for every call, flushed, on stdout.
python3-dbus (libdbus, the reference implementation) and python3-gi for the GLib main loop: Debian packages
(.ci/apt-packages.txt), so /usr/bin/python3 rather than whatever python3 comes first in PATH.
"""
import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = 'com.axis.HTTPConf1'
PATH = '/com/axis/HTTPConf1/VAPIXServiceAccounts1'
IFACE = 'com.axis.HTTPConf1.VAPIXServiceAccounts1'

mode = sys.argv[1]
password = sys.argv[2] if len(sys.argv) > 2 else 'pw'


class AccessDenied(dbus.DBusException):
    _dbus_error_name = 'org.freedesktop.DBus.Error.AccessDenied'


class Accounts(dbus.service.Object):
    # out_signature None: each mode's reply carries the signature of the values it passes.
    @dbus.service.method(IFACE, in_signature='s', out_signature=None, async_callbacks=('reply', 'error'))
    def GetCredentials(self, username, reply, error):
        print('call', username, flush=True)
        creds = 'a0-%s:%s' % (username, password)
        if mode == 'ok':
            reply(dbus.String(creds))
        elif mode == 'error':
            error(AccessDenied('the caller may not create service accounts'))
        elif mode == 'no-colon':
            reply(dbus.String('a0-' + username))
        elif mode == 'sig-i':
            reply(dbus.Int32(42))
        elif mode == 'sig-ss':
            reply(dbus.String(creds), dbus.String('extra'))
        elif mode == 'sig-as':
            reply(dbus.Array([creds], signature='s'))
        # 'silent': never answers; the caller's own timeout must end the wait.


DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(os.environ['VIGIL_TEST_BUS'])
name = dbus.service.BusName(NAME, bus, do_not_queue=True)
Accounts(bus, PATH)
print('ready', flush=True)
GLib.MainLoop().run()
