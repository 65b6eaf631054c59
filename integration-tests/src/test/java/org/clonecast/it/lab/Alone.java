package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import org.junit.jupiter.api.parallel.Resources;

/**
 * Marks a test class that runs with the machine to itself: no class of either lane beside it
 * (JUnit's global lock, taken for writing; every other class holds it for reading while it runs).
 * For a class whose several VMs keep both cores busy for minutes: beside a light class, whose JVMs
 * took a core from them, {@code ClusterBootQemuIT}'s three guests fell behind the sender into 13
 * passes of the image instead of 10 and the class took 637–704 s against 555 s alone, while the
 * light class waited on them in turn. Alone, it costs the suite its own time and gives the others
 * back a core. When such a class is picked, the classes running finish, the lanes pause, and resume
 * after it. See {@link HeavyLane}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock(value = Resources.GLOBAL, mode = ResourceAccessMode.READ_WRITE)
public @interface Alone {}
