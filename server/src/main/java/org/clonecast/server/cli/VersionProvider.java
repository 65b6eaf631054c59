package org.clonecast.server.cli;

import picocli.CommandLine;

/** Reports the version recorded in the jar manifest at build time. */
public final class VersionProvider implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    String v = Main.class.getPackage().getImplementationVersion();
    return new String[] {"clonecast " + (v == null ? "development build" : v)};
  }
}
