/**
 * The daemon's persistent state in SQLite: node inventory, event log, and (added by the services
 * that own them) leases, images and sessions. Every write is one durable transaction.
 */
package org.clonecast.server.store;
