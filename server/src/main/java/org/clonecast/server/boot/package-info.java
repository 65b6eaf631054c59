/**
 * Boot policy: what each MAC boots (re-image or its local disk), and the iPXE scripts that say so.
 */
package org.clonecast.server.boot;
