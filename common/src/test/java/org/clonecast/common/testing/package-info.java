/**
 * Test fixtures shared with other modules' tests through the common test jar: sample disk contents,
 * a throw-away PostgreSQL server.
 */
package org.clonecast.common.testing;
