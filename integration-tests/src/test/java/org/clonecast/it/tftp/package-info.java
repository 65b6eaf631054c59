/**
 * The TFTP server in the namespace lab against real clients (tftp-hpa, atftp, curl) and an
 * EDK2-style client.
 */
package org.clonecast.it.tftp;
