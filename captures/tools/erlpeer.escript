#!/usr/bin/env escript
%% erlpeer.escript — an Erlang/OTP ssl peer for captures/record.sh (erlang_stacks).
%%   escript erlpeer.escript client IP PORT [key=value ...]
%%       sni=NAME (server_name_indication; OTP checks the certificate against it)
%%       cacert=FILE (verify_peer against it; absent = verify_none)
%%       versions=tlsv1.2,tlsv1.3  ciphers=OPENSSL-NAME:OPENSSL-NAME
%%     connects, prints the outcome, closes (close_notify) right after a handshake.
%%   escript erlpeer.escript server IP PORT cert=FILE key=FILE [versions=.. ciphers=..
%%       cacert=FILE require_client_cert=true]
%%     accepts ONE connection (no deadline: record.sh bounds it), then exits.
%% Prints "handshake ok ..." or "error: Reason" (the ssl application's own reason term).
-mode(compile).

main([Role, Ip, Port | KVs]) ->
    {ok, _} = application:ensure_all_started(ssl),
    Opts = maps:from_list([list_to_tuple(string:split(KV, "=")) || KV <- KVs]),
    {ok, Addr} = inet:parse_address(Ip),
    run(Role, Addr, list_to_integer(Port), Opts);
main(_) ->
    io:format("usage: erlpeer.escript client|server IP PORT [key=value ...]~n"),
    halt(2).

common(O) ->
    V = case maps:find("versions", O) of
            {ok, Vs} -> [{versions, [list_to_atom(X) || X <- string:split(Vs, ",", all)]}];
            error -> []
        end,
    C = case maps:find("ciphers", O) of
            {ok, Cs} -> [{ciphers, [ssl:str_to_suite(X) || X <- string:split(Cs, ":", all)]}];
            error -> []
        end,
    V ++ C.

run("client", Addr, Port, O) ->
    Verify = case maps:find("cacert", O) of
                 {ok, CA} -> [{verify, verify_peer}, {cacertfile, CA}];
                 error -> [{verify, verify_none}]
             end,
    Sni = case maps:find("sni", O) of
              {ok, N} -> [{server_name_indication, N}];
              error -> []
          end,
    Opts = [binary, {active, false}, {log_level, notice}] ++ Verify ++ Sni ++ common(O),
    io:format("ssl:connect(~p, ~p, ~p)~n", [Addr, Port, Opts]),
    case ssl:connect(Addr, Port, Opts, 8000) of
        {ok, S} ->
            {ok, Info} = ssl:connection_information(S, [protocol, selected_cipher_suite]),
            io:format("handshake ok ~p~n", [Info]),
            ssl:close(S),
            halt(0);
        {error, R} ->
            io:format("error: ~p~n", [R]),
            halt(1)
    end;
run("server", Addr, Port, O) ->
    CC = case maps:find("require_client_cert", O) of
             {ok, "true"} -> [{verify, verify_peer}, {fail_if_no_peer_cert, true},
                              {cacertfile, maps:get("cacert", O)}];
             _ -> [{verify, verify_none}]
         end,
    Opts = [binary, {active, false}, {reuseaddr, true}, {ip, Addr}, {log_level, notice},
            {certfile, maps:get("cert", O)}, {keyfile, maps:get("key", O)}] ++ CC ++ common(O),
    {ok, L} = ssl:listen(Port, Opts),
    io:format("listening on ~p ~p~n", [Port, Opts]),
    {ok, T} = ssl:transport_accept(L, infinity),
    case ssl:handshake(T, 8000) of
        {ok, S} ->
            {ok, Info} = ssl:connection_information(S, [protocol, selected_cipher_suite]),
            io:format("handshake ok ~p~n", [Info]),
            _ = ssl:recv(S, 0, 2000),
            ssl:close(S),
            halt(0);
        {error, R} ->
            io:format("error: ~p~n", [R]),
            timer:sleep(300),
            halt(1)
    end.
