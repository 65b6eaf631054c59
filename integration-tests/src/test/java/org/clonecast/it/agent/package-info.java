/** The agent's own commands on real disk images (loop devices, ext4 read back with debugfs). */
package org.clonecast.it.agent;
