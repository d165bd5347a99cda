// Starts one OpenSearch node from the jars in .local/opensearch/lib (scripts/opensearch/pom.xml). Maven Central
// has the server and its modules but no distribution, so there is no bin/opensearch, no modules/ folder and no
// plugin descriptors: this starts the node the way OpenSearch's own integration tests do, with the modules a
// search node needs (HTTP and transport on Netty, the common analyzers) passed as classpath plugins.
// Usage: java -cp <conf>:<classes>:<lib>/* Launcher <path.home>; settings come from <path.home>/config/opensearch.yml.
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class Launcher {
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Launcher <path.home>");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Settings base = Settings.builder().put("path.home", home.toString()).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(base, Map.of(), home.resolve("config"), () -> "parley-search");
        LogConfigurator.configure(env);
        Node node = new EmbeddedNode(env, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM: close the node (flushes and releases the data directory's lock), then exit.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "parley-search-shutdown"));
        node.start();
        stopped.await();
    }
}
