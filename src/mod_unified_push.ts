const NS = "http://gultsch.de/xmpp/drafts/unified-push";
module.add_feature(NS);
module.log("info", "loaded");
