/**
 * Test fixtures shared with other modules' tests through the common test jar: sample disk contents.
 */
package org.clonecast.common.testing;
