// The only C++ in defrisk: toml++ parses TOML 1.0 and this file reports the
// parsed tree to C as a stream of plain events (core/config.h, dr_toml_walk).
// Every exception stops here; nothing C++ crosses the boundary.

// core/status.h is C11: _Noreturn is spelled [[noreturn]] in C++.
#define _Noreturn [[noreturn]]
extern "C" {
#include "core/status.h"
}
#undef _Noreturn
#include "core/config.h"

#include <toml++/toml.h>

#include <new>
#include <string>
#include <string_view>

namespace {

struct walker {
    dr_toml_event_fn fn;
    void *ctx;
};

dr_toml_event blank_event(dr_toml_event_kind kind, const toml::node &n)
{
    dr_toml_event ev{};
    ev.kind = kind;
    ev.line = (int)n.source().begin.line;
    ev.col = (int)n.source().begin.column;
    return ev;
}

dr_status emit_end(const walker &w, dr_toml_event_kind kind)
{
    dr_toml_event ev{};
    ev.kind = kind;
    return w.fn(w.ctx, &ev);
}

dr_status walk_node(const walker &w, const toml::node &n, const toml::key *k);

dr_status walk_table(const walker &w, const toml::table &t)
{
    for (auto &&[k, v] : t) {
        dr_status s = walk_node(w, v, &k);
        if (s != DR_OK)
            return s;
    }
    return DR_OK;
}

dr_status walk_node(const walker &w, const toml::node &n, const toml::key *k)
{
    // key text must outlive the callback: keep it in a local string
    std::string key_text;
    dr_toml_event ev{};
    std::string str_val;
    switch (n.type()) {
    case toml::node_type::table: ev = blank_event(DR_TOML_TABLE_BEGIN, n); break;
    case toml::node_type::array: ev = blank_event(DR_TOML_ARRAY_BEGIN, n); break;
    case toml::node_type::integer:
        ev = blank_event(DR_TOML_INT, n);
        ev.i = n.as_integer()->get();
        break;
    case toml::node_type::floating_point:
        ev = blank_event(DR_TOML_FLOAT, n);
        ev.f = n.as_floating_point()->get();
        break;
    case toml::node_type::boolean:
        ev = blank_event(DR_TOML_BOOL, n);
        ev.b = n.as_boolean()->get() ? 1 : 0;
        break;
    case toml::node_type::string:
        ev = blank_event(DR_TOML_STRING, n);
        str_val = n.as_string()->get();
        ev.s = str_val.c_str();
        ev.s_len = str_val.size();
        break;
    case toml::node_type::date:
        ev = blank_event(DR_TOML_OTHER, n);
        ev.type_name = "date";
        break;
    case toml::node_type::time:
        ev = blank_event(DR_TOML_OTHER, n);
        ev.type_name = "time";
        break;
    case toml::node_type::date_time:
        ev = blank_event(DR_TOML_OTHER, n);
        ev.type_name = "date-time";
        break;
    default:
        ev = blank_event(DR_TOML_OTHER, n);
        ev.type_name = "unknown TOML node";
        break;
    }
    if (k) {
        key_text = std::string(k->str());
        ev.key = key_text.c_str();
        ev.key_line = (int)k->source().begin.line;
        ev.key_col = (int)k->source().begin.column;
        // toml++ gives implicit tables (the "a" of [a.b]) no position of their own
        if (ev.line == 0) {
            ev.line = ev.key_line;
            ev.col = ev.key_col;
        }
    }
    dr_status s = w.fn(w.ctx, &ev);
    if (s != DR_OK)
        return s;
    if (const toml::table *t = n.as_table()) {
        s = walk_table(w, *t);
        if (s != DR_OK)
            return s;
        return emit_end(w, DR_TOML_TABLE_END);
    }
    if (const toml::array *a = n.as_array()) {
        for (const toml::node &el : *a) {
            s = walk_node(w, el, nullptr);
            if (s != DR_OK)
                return s;
        }
        return emit_end(w, DR_TOML_ARRAY_END);
    }
    return DR_OK;
}

} // namespace

extern "C" dr_status dr_toml_walk(const char *text, size_t len, const char *source_name,
                                  dr_toml_event_fn fn, void *ctx)
{
    if (!text || !fn)
        return dr_error(DR_ERR_INVALID, "dr_toml_walk: text and fn must not be NULL");
    const char *src = source_name ? source_name : "(string)";
    try {
        toml::table root = toml::parse(std::string_view(text, len), std::string_view(src));
        walker w{fn, ctx};
        return walk_table(w, root);
    } catch (const toml::parse_error &e) {
        std::string desc(e.description());
        return dr_error(DR_ERR_PARSE, "%s:%u:%u: %s", src, (unsigned)e.source().begin.line,
                        (unsigned)e.source().begin.column, desc.c_str());
    } catch (const std::bad_alloc &) {
        return dr_error(DR_ERR_NOMEM, "%s: out of memory while parsing TOML", src);
    } catch (const std::exception &e) {
        return dr_error(DR_ERR_PARSE, "%s: TOML parser failed: %s", src, e.what());
    } catch (...) {
        return dr_error(DR_ERR_PARSE, "%s: TOML parser failed with an unknown exception", src);
    }
}
