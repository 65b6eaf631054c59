/** File channel helpers shared by the image code, the daemon's capture store and the agent. */
package org.clonecast.common.io;
