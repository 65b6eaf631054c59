/**
 * Test support: a classic-pcap reader, golden-packet files and where the reference captures live.
 * Single-threaded test code.
 */
package org.clonecast.protocol.testutil;
