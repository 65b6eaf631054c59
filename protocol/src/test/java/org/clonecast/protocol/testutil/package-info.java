/**
 * Test support: a pcap/pcapng reader and the golden packets read from the reference captures.
 * Shared with the server's tests through this module's test jar.
 */
package org.clonecast.protocol.testutil;
