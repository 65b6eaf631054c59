/**
 * The daemon's configuration: one immutable record tree, loaded from a file and overridden by
 * flags.
 */
package org.clonecast.server.config;
