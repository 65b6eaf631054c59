/** The {@code clonecast} command line: picocli commands that map flags onto config records. */
package org.clonecast.server.cli;
