/**
 * The Debian package installed for real: dpkg, the hardened systemd unit, man pages, the daemon
 * under the unit's user and capabilities.
 */
package org.clonecast.it.pkg;
